"""Test helpers shared by the reliability tests (not tests themselves)."""
