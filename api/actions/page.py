"""The HTML of the action-link page: one small, self-contained document (no scripts, no
external assets, its one inline style allowed by its hash), escaped everywhere."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

_STYLE = """
body{margin:0;background:#f3f5f8;color:#1c2733;font:17px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,Arial,sans-serif}
main{max-width:34rem;margin:2.5rem auto;padding:1.75rem 1.5rem;background:#fff;
border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.45rem;margin:0 0 1rem}
p{margin:.6rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:1.2rem 0;
padding:1rem;background:#f3f5f8;border-radius:8px}
dt{color:#5a6675}dd{margin:0;font-weight:600}
.fee{padding:.8rem 1rem;border-left:4px solid #c2410c;background:#fff4ec;border-radius:4px}
.note{padding:.8rem 1rem;border-left:4px solid #1d4ed8;background:#eef3ff;border-radius:4px}
.done{padding:.8rem 1rem;border-left:4px solid #15803d;background:#ecfdf3;border-radius:4px}
.refused{padding:.8rem 1rem;border-left:4px solid #b91c1c;background:#fef2f2;border-radius:4px}
form{margin-top:1.4rem}
label{display:flex;gap:.6rem;align-items:flex-start;margin:.8rem 0}
input[type=checkbox]{width:1.2rem;height:1.2rem;margin-top:.2rem}
button{font:inherit;font-weight:600;border:0;border-radius:8px;padding:.75rem 1.6rem;
cursor:pointer;color:#fff;background:#15803d}
button.cancel{background:#b91c1c}
footer{margin-top:1.5rem;font-size:.85rem;color:#5a6675}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

# Nothing but the page's own style: no script, image, font, frame or fetch, from anywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The token is in the URL: no other site learns it from a Referer, no cache keeps it.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}


def when(instant: datetime, zone: str) -> str:
    """``instant`` as the clinic writes it: "Tuesday, 8 January 2030, 09:00 (Europe/Berlin)"."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local:%A}, {local.day} {local:%B %Y, %H:%M} ({zone})"


def money(cents: int, currency: str) -> str:
    return f"{currency} {cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True, slots=True)
class Shown:
    """The appointment as the page shows it."""

    when: str
    doctor: str | None
    duration_minutes: int
    status: str


def details(shown: Shown) -> str:
    rows = [("When", shown.when)]
    if shown.doctor:
        rows.append(("Doctor", shown.doctor))
    rows += [("Length", f"{shown.duration_minutes} minutes"), ("Status", shown.status)]
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f"<dl>{cells}</dl>"


def paragraph(text: str, kind: str | None = None) -> str:
    css = f' class="{kind}"' if kind else ""
    return f"<p{css}>{escape(text)}</p>"


def confirm_form() -> str:
    return (
        '<form method="post">'
        '<button type="submit" name="do" value="confirm">Confirm</button></form>'
    )


def cancel_form(fee_cents: int, fee_text: str | None) -> str:
    agree = ""
    if fee_cents and fee_text:
        agree = (
            '<label><input type="checkbox" name="accept_fee" value="yes" required>'
            f"<span>I accept the late cancellation fee of {escape(fee_text)}.</span></label>"
        )
    return (
        '<form method="post">'
        f'<input type="hidden" name="fee_cents" value="{fee_cents}">{agree}'
        '<button type="submit" class="cancel" name="do" value="cancel">'
        "Cancel the appointment</button></form>"
    )


def render(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} - Smart Clinic</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}"
        "<footer>Smart Clinic appointments. Questions? Call the clinic's front desk.</footer>"
        "</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)
