"""Image errors."""

from gluta_kit.errors import AppError


class UnsupportedMedia(AppError):
    status, code, title = 415, "UNSUPPORTED_MEDIA", "Unsupported media type"


class ImageTooLarge(AppError):
    status, code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class ImageNotFound(AppError):
    status, code, title = 404, "IMAGE_NOT_FOUND", "Image not found"


class ImageStorageUnavailable(AppError):
    status, code, title = 503, "IMAGE_STORAGE_UNAVAILABLE", "Image storage unavailable"
