"""A ``click`` app: every command needs a license, ``export`` needs a "pro" one.

``@requires_license`` and ``@feature`` go below ``@cli.command()``: click sees the
original signature. Needs ``pip install click``. Set up the environment as in
examples/README.md, then:

    python examples/click_app.py status
    python examples/click_app.py export notes.txt

Exit codes: 0 ok, 1 no license or not licensed for the command, 2 usage or configuration.
"""

from __future__ import annotations

import sys

import click
from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

from authforge_guard import (
    ConfigurationError,
    FeatureNotLicensed,
    LicenseError,
    configure,
    feature,
    get_guard,
    requires_license,
)


@click.group()
def cli() -> None:
    """Notes, licensed."""
    # Whose licenses this program believes: pinned in code, as in the quick start.
    configure(app_id=APP_ID, public_key=PUBLIC_KEY, api_base_url=API_URL)


@cli.command()
@requires_license
def status() -> None:
    """Show the license this machine uses."""
    session = get_guard().ensure()
    click.echo(f"licensed: tier {session.tier}, key {session.license_key}")


@cli.command()
@click.argument("path")
@click.option("--title", default="Notes", help="the document title")
@requires_license
@feature("pro")
def export(path: str, title: str) -> None:
    """Export notes as HTML (pro)."""
    click.echo(f"<h1>{title}</h1><p>exported {path}</p>")


def main() -> int:
    try:
        cli.main(standalone_mode=False)
    except FeatureNotLicensed as exc:
        click.echo(f"this command needs a {exc.feature} license (yours: {exc.tier})", err=True)
        return 1
    except LicenseError as exc:
        click.echo(f"no license ({exc.code})", err=True)
        return 1
    except ConfigurationError as exc:
        click.echo(str(exc), err=True)
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
