"""The field rules of API.md, on the schemas alone."""

import pytest
from pydantic import ValidationError

from gluta_user.member.schemas import MemberCreate

VALID = {"loginId": "alice_01", "password": "secret123", "memberName": "Alice", "phoneNumber": "010-1234-5678",
         "email": "Alice@Example.COM"}


def test_a_valid_sign_up_is_normalised() -> None:
    member = MemberCreate.model_validate(VALID | {"memberName": "  Alice  ", "postNumber": " ", "address": ""})
    assert member.member_name == "Alice"
    assert member.email == "Alice@example.com"  # the domain is case-insensitive, the local part is kept
    assert (member.post_number, member.address) == (None, None)


@pytest.mark.parametrize("password", ["비밀번호는길다1", "Ünïcödé9", "a1" + "x" * 62])
def test_passwords_with_a_letter_and_a_digit_in_8_to_64_chars_pass(password) -> None:
    assert MemberCreate.model_validate(VALID | {"password": password}).password == password


@pytest.mark.parametrize("password", ["abcdefgh", "12345678", "a1b2c3", "a1" + "x" * 63, "!!!!!!!1", "a" * 7 + "٣"])
def test_other_passwords_fail(password) -> None:
    with pytest.raises(ValidationError):
        MemberCreate.model_validate(VALID | {"password": password})


@pytest.mark.parametrize("phone", ["01012345678", "010-1234-5678", "02-123-4567"])
def test_phone_numbers_are_digits_and_dashes(phone) -> None:
    assert MemberCreate.model_validate(VALID | {"phoneNumber": phone}).phone_number == phone


@pytest.mark.parametrize("phone", ["010--1234-5678", "-0101234567", "010 1234 5678", "٠١٠١٢٣٤٥٦٧٨"])
def test_other_phone_numbers_fail(phone) -> None:
    with pytest.raises(ValidationError):
        MemberCreate.model_validate(VALID | {"phoneNumber": phone})
