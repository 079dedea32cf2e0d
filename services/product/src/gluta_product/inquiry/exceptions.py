"""Inquiry errors."""

from gluta_kit.errors import AppError


class InquiryNotFound(AppError):
    status, code, title = 404, "INQUIRY_NOT_FOUND", "Inquiry not found"


class AnswerNotFound(AppError):
    status, code, title = 404, "ANSWER_NOT_FOUND", "The inquiry has no answer"
