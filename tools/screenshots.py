"""Screenshots of the main pages for the README: ``.venv/bin/python tools/screenshots.py``.

Serves the app as ``make run`` does (development.ini, SQLite, the ``initializedb --demo``
data) from a throw-away database, drives Debian's chromium through Playwright (the test
extras), and writes ``docs/screenshots/<page>-<size>.png`` at a laptop's 1366x768 and a
phone's 390x844. Run it again after changing a page's look and commit the pictures.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {
    "desktop": {"viewport": {"width": 1366, "height": 768}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True},
}
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def demo_database(url: str) -> dict[str, object]:
    """Create the demo data in the database at ``url``; returns the ids the pages need."""
    from sqlalchemy import create_engine, select, update

    from orbitflow.accounts.models import User
    from orbitflow.scripts import initializedb
    from orbitflow.scripts.demo import DEMO_SUBSCRIPTION_ID
    from orbitflow.tenants.models import Company
    from orbitflow_plugins.quiz.models import Quiz, QuizSubmission

    initializedb.main([str(ROOT / "development.ini"), "--demo"])
    engine = create_engine(url)
    with engine.begin() as connection:
        # The demo users must choose a password at first sign-in; the pictures show the
        # pages after that step.
        connection.execute(update(User.__table__).values(must_change_password=False))
        company_id = connection.scalar(select(Company.id).where(Company.subscription_id == DEMO_SUBSCRIPTION_ID))
        # A lead that came from a quiz, so its page shows the answers.
        lead_id = connection.scalar(
            select(QuizSubmission.lead_id)
            .where(QuizSubmission.company_id == company_id, QuizSubmission.lead_id.is_not(None))
            .order_by(QuizSubmission.id)
        )
        quiz_id, slug = connection.execute(
            select(Quiz.id, Quiz.slug).where(Quiz.company_id == company_id).order_by(Quiz.id)
        ).first()
    engine.dispose()
    return {"lead": lead_id, "quiz": quiz_id, "public_quiz": f"/q/{DEMO_SUBSCRIPTION_ID}/{slug}"}


def serve() -> tuple[str, object]:
    """The app of development.ini on a free port of 127.0.0.1, in a thread."""
    import waitress
    from pyramid.paster import get_appsettings

    from orbitflow.app import make_app

    apps: list = []
    server = waitress.create_server(lambda environ, start: apps[0](environ, start), host="127.0.0.1", port=0)
    url = f"http://127.0.0.1:{server.effective_port}"
    settings = dict(get_appsettings(str(ROOT / "development.ini")))
    settings["orbitflow.auth_url"] = url
    apps.append(make_app(settings))
    threading.Thread(target=server.run, daemon=True).start()
    return url, server


def shoot(page, output: Path, name: str, size: str) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(600)  # Chart.js animates its first drawing.
    path = output / f"{name}-{size}.png"
    page.screenshot(path=str(path))
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size // 1024} KiB)")


def take(base_url: str, ids: dict[str, object], output: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    from orbitflow.scripts.demo import DEMO_PASSWORD, DEMO_SUBSCRIPTION_ID

    pages = [
        ("dashboard", "/dashboard"),
        ("board", "/pipeline"),
        ("lead", f"/leads/{ids['lead']}"),
        ("quiz-builder", f"/quizzes/{ids['quiz']}"),
        ("public-quiz", str(ids["public_quiz"])),
        ("analytics", "/analytics"),
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        for size, options in SIZES.items():
            context = browser.new_context(base_url=base_url, device_scale_factor=1, **options)
            page = context.new_page()
            page.goto("/login")
            shoot(page, output, "login", size)
            page.fill("#subscription_id", DEMO_SUBSCRIPTION_ID)
            page.fill("#username", "owner")
            page.fill("#password", DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/dashboard")
            for name, path in pages:
                page.goto(path)
                shoot(page, output, name, size)
            context.close()
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser Playwright drives")
    args = parser.parse_args(argv)
    if not os.path.exists(args.chromium):
        sys.exit(f"no browser at {args.chromium}: apt-get install chromium")
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="orbitflow-screenshots-") as folder:
        url = f"sqlite:///{folder}/orbitflow.sqlite"
        # Read by initializedb and the app over development.ini's own database.
        os.environ["DATABASE_URL"] = url
        ids = demo_database(url)
        # One line per picture is enough; development.ini logs every request.
        logging.getLogger("orbitflow").setLevel(logging.WARNING)
        base_url, server = serve()
        try:
            take(base_url, ids, args.output, args.chromium)
        finally:
            server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
