"""The console's sign-in page: server-rendered, everything shown escaped, its CSS inline (nothing loaded from
elsewhere), readable on a phone. Styled like the link pages (gunwatch.web.pages)."""

from __future__ import annotations

from html import escape

# As the link pages': no caching, no Referer, no framing (a framed sign-in form invites clickjacking), nothing
# loaded from elsewhere, and the form may only post here.
LOGIN_HEADERS = {
    "Cache-Control": "no-store",
    # same-origin, not no-referrer: under no-referrer a browser posts the form with `Origin: null`, which the
    # same-site check must refuse. Nothing secret is in this page's URL.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;background:#f4f4f5;
color:#18181b;line-height:1.4}
main{max-width:24rem;margin:10vh auto 0;background:#fff;border-radius:.75rem;padding:1rem 1.25rem;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.35rem;margin:.25rem 0 1rem}
label{display:block;margin:0 0 .35rem;color:#52525b}
input{box-sizing:border-box;width:100%;font-size:1rem;padding:.6rem;margin:0 0 1rem;border:1px solid #a1a1aa;
border-radius:.5rem}
input:focus{outline:2px solid #1d4ed8;outline-offset:1px}
button{width:100%;font-size:1.15rem;font-weight:600;padding:.9rem;border:0;border-radius:.5rem;color:#fff;
background:#1d4ed8;cursor:pointer}
.notice{padding:.75rem;border-radius:.5rem;background:#fef3c7;margin:0 0 1rem}
.bad{background:#fee2e2}
.small{font-size:.85rem;color:#71717a;margin:1rem 0 0}
"""


def login_page(next_path: str, csrf: str, message: str | None = None, name: str = "") -> str:
    """The sign-in form. `csrf` is the pre-session token of the form; `next_path` (a local path, checked by
    the caller) is where a successful sign-in leads; `message` says why the last try failed. The form has no
    action: it posts to the page's own URL, so it works behind a proxy's path prefix too."""
    notice = f"<p class=\"notice bad\" role=\"alert\">{escape(message)}</p>" if message else ""
    autofocus = ("autofocus", "") if not name else ("", "autofocus")
    body = (f"{notice}<form method=\"post\">"
            f"<input type=\"hidden\" name=\"csrf\" value=\"{escape(csrf)}\">"
            f"<input type=\"hidden\" name=\"next\" value=\"{escape(next_path)}\">"
            "<label for=\"name\">User name</label>"
            f"<input type=\"text\" id=\"name\" name=\"name\" value=\"{escape(name)}\" autocomplete=\"username\" "
            f"autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"100\" required {autofocus[0]}>"
            "<label for=\"password\">Password</label>"
            "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" "
            f"maxlength=\"1024\" required {autofocus[1]}>"
            "<button type=\"submit\">Sign in</button></form>"
            "<p class=\"small\">Forgot your password? An administrator sets a new one with "
            "<code>gunwatch user passwd NAME</code>.</p>")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex,nofollow\">"
            f"<title>Sign in - gunwatch</title><style>{_STYLE}</style></head>"
            f"<body><main><h1>gunwatch: sign in</h1>{body}</main></body></html>")
