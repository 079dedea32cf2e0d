"""The mail port: `.eml` files for local mode, SMTP settings read from a URL."""

from email import policy
from email.parser import BytesParser

import pytest

from gluta_user.mail import FileMailer, SmtpMailer, build_mailer, compose


async def test_the_file_mailer_writes_a_readable_eml(tmp_path) -> None:
    mailer = FileMailer(tmp_path / "mail")
    await mailer.send(compose(sender="Shop <no-reply@example.com>", to="a@example.com", subject="제목 subject",
                              text="본문 body\n"))
    [path] = list((tmp_path / "mail").iterdir())
    assert path.suffix == ".eml"
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert (message["To"], message["Subject"]) == ("a@example.com", "제목 subject")
    assert message["Date"] and message["Message-ID"]
    assert message.get_body(preferencelist=("plain",)).get_content() == "본문 body\n"


def test_smtp_urls() -> None:
    plain = SmtpMailer("smtp://mail.example.com:2525")
    assert (plain.hostname, plain.port, plain.use_tls, plain.start_tls, plain.username) == (
        "mail.example.com", 2525, False, None, None)
    secure = SmtpMailer("smtps://user%40x:p%3Ass@mail.example.com")
    assert (secure.port, secure.use_tls, secure.username, secure.password) == (465, True, "user@x", "p:ss")
    assert SmtpMailer("smtp://h?starttls=false").start_tls is False
    with pytest.raises(ValueError):
        SmtpMailer("http://mail.example.com")


def test_the_mailer_is_chosen_by_url(tmp_path) -> None:
    assert isinstance(build_mailer(None, tmp_path), FileMailer)
    assert isinstance(build_mailer("smtp://127.0.0.1:25", tmp_path), SmtpMailer)
