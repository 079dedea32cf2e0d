"""Search synonyms: the operator edits the whole list as text (one entry per line) and saves it at once."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gluta_admin.synonym.service import as_lines, parse_lines
from gluta_admin.web import Admin, _, flash_error, form_text, gateway, redirect, render
from gluta_kit.web import ApiError, flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

SYNONYMS = "/api/product-service/synonyms"


@router.get("/synonyms", response_class=HTMLResponse)
async def synonym_page(request: Request, admin: Admin) -> HTMLResponse:
    """Show the synonym list as editable text."""
    found = await gateway(request).get(request, SYNONYMS, auth="required")
    items = (found or {}).get("items", [])
    return render(request, "synonyms.html", nav="synonyms", text=as_lines(items), count=len(items))


@router.post("/synonyms")
async def save_synonyms(request: Request, admin: Admin) -> Response:
    """Replace the list with what the form holds; lines that cannot be read keep the form as typed."""
    text = form_text(await request.form(), "synonyms", 200_000)
    parsed = parse_lines(text)
    if parsed.errors:
        flash(request, _("Lines %(lines)s are not “word => synonym, synonym” or “word, word”; nothing was saved.")
              % {"lines": ", ".join(str(n) for n in parsed.errors[:10])}, "error")
        return render(request, "synonyms.html", nav="synonyms", text=text, count=len(parsed.items), status_code=422)
    try:
        saved = await gateway(request).put(request, SYNONYMS, auth="required", json={"items": parsed.items})
    except ApiError as exc:
        flash_error(request, exc, _("The synonyms could not be saved."))
        return render(request, "synonyms.html", nav="synonyms", text=text, count=len(parsed.items),
                      status_code=exc.status if 400 <= exc.status < 500 else 502)
    flash(request, _("%(count)s synonym entries saved; searches use them from now on.")
          % {"count": len((saved or {}).get("items", []))}, "success")
    return redirect("/synonyms")
