"""Field types with the validation rules of API.md, shared by the feature schemas."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, StringConstraints
from pydantic.alias_generators import to_camel

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGIT = re.compile(r"[0-9]")


def _utf8(value: str) -> str:
    # JSON may carry lone surrogates that no database (and no hash function) can take
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode") from exc
    return value


def _plain_text(value: str) -> str:
    _utf8(value)
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _password_rules(value: str) -> str:
    _utf8(value)
    if not any(ch.isalpha() for ch in value) or not _DIGIT.search(value):
        raise ValueError("the password needs at least one letter and one digit")
    return value


def _empty_is_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


PlainText = Annotated[str, AfterValidator(_plain_text)]
LoginId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{4,20}$")]
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=64), AfterValidator(_password_rules)]
# what a login form may send: not the sign-up rules (they may change), only sane bounds
GivenLoginId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_plain_text)]
GivenPassword = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_utf8)]
MemberName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
                       AfterValidator(_plain_text)]
PhoneNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=7, max_length=20,
                                               pattern=r"^[0-9]+(-[0-9]+)*$")]
Email = Annotated[EmailStr, AfterValidator(_plain_text)]
_PostNumberText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10, pattern=r"^[0-9A-Za-z -]+$")]
_AddressText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_plain_text)]
_KeywordText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(_plain_text)]
# optional text: blank means absent
PostNumber = Annotated[_PostNumberText | None, BeforeValidator(_empty_is_none)]
Address = Annotated[_AddressText | None, BeforeValidator(_empty_is_none)]
Keyword = Annotated[_KeywordText | None, BeforeValidator(_empty_is_none)]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_utf8)]


class CamelModel(BaseModel):
    """camelCase on the wire; fields the caller may not set (memberId, role...) are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
