"""A customer-facing Typer CLI: refusals are plain lines and exit codes, never a traceback.

``notes activate KEY`` stores the customer's key (checked with AuthForge first);
``report`` needs a license, ``export`` a "pro" one; ``--help`` never needs one.
Needs ``pip install typer``. Set up the environment as in examples/README.md
(without AUTHFORGE_LICENSE_KEY: the customer activates), then:

    python examples/typer_cli.py activate YOUR-KEY
    python examples/typer_cli.py report
    python examples/typer_cli.py export notes.html
    python examples/typer_cli.py deactivate

Exit codes: 0 ok, 1 license refused or not licensed for the command, 2 not set up
(no key activated yet, or missing settings), 3 the license server could not be reached.
"""

import sys

import typer
from authforge_app import API_URL, APP_ID, PUBLIC_KEY  # pinned: see examples/README.md

import authforge_guard
from authforge_guard import ConfigurationError, configure, feature, requires_license

app = typer.Typer(help="Notes, licensed.", no_args_is_help=True, add_completion=False)


@app.command()
def activate(key: str) -> None:
    """Check your license key and remember it on this computer."""
    try:
        session = authforge_guard.activate(key)
    except authforge_guard.LicenseError as exc:
        typer.echo(exc.user_message, err=True)
        raise typer.Exit(1 if exc.fatal or exc.code == "invalid_key" else 3) from None
    typer.echo(f"Activated ({session.tier or 'basic'} license). Thank you!")


@app.command()
def deactivate() -> None:
    """Forget the license key stored on this computer."""
    authforge_guard.deactivate()
    typer.echo("Deactivated.")


@app.command()
@requires_license(on_refused="exit")
def report(days: int = typer.Option(7, help="how many days back")) -> None:
    """Summarise the last DAYS days of notes."""
    session = authforge_guard.get_guard().ensure()
    typer.echo(f"report for {days} days (tier {session.tier or 'none'})")


@app.command()
@requires_license(on_refused="exit")
@feature("pro")
def export(path: str) -> None:
    """Export the notes as HTML (pro)."""
    typer.echo(f"exported to {path}")


SUPPORT = "support@notes.example"


def main() -> int:
    # Whose licenses this program believes: pinned in code, as in the quick start.
    try:
        configure(
            app_id=APP_ID,
            public_key=PUBLIC_KEY,
            api_base_url=API_URL,
            on_refused="exit",
            support_hint=SUPPORT,
        )
    except ConfigurationError as exc:
        if sys.argv[1:] and not {"--help", "-h"} & set(sys.argv[1:]):
            exc.support_hint = SUPPORT
            typer.echo(exc.user_message, err=True)  # plain words, no traceback
            return 2
    app()
    return 0


if __name__ == "__main__":
    sys.exit(main())
