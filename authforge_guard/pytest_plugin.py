"""Pytest fixtures for users' own test suites: a local AuthForge server, a license, a Guard.

pytest imports this module in every run of every project that installs us,
before coverage starts. Importing it must do nothing: no server, no
environment or network reads. The library is imported inside the fixtures.
"""
