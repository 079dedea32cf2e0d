"""Why a redrive did not happen."""


class NoInstance(Exception):
    """No live instance of the service answered."""

    def __init__(self, service: str) -> None:
        super().__init__(f"no live instance of {service}")
        self.service = service


class RedriveRefused(Exception):
    """The instance answered but did not redrive (the handler failed again, or the letter is gone)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
