"""Typed errors raised by the Qt-free core. Every message is one clear line for the user."""


class BgEraserError(Exception):
    """Base class: anything the user should see as a one-line message, never a traceback."""


class ImageLoadError(BgEraserError):
    """An input image could not be opened."""


class UnsupportedFormatError(ImageLoadError):
    """The file is not an image format we can read."""


class CorruptImageError(ImageLoadError):
    """The file claims to be an image but its data is damaged or truncated."""


class ImageTooLargeError(ImageLoadError):
    """The image exceeds the configured pixel limit (decompression-bomb guard)."""


class ExportError(BgEraserError):
    """An output file could not be written."""


class OutputExistsError(ExportError):
    """The output exists and the policy says not to touch it."""


class ModelError(BgEraserError):
    """A segmentation model is missing, corrupt or cannot run."""


class Cancelled(BgEraserError):
    """The user cancelled the running job."""


def describe_error(exc: BaseException) -> str:
    """The one-line message for `exc` that every front end shows (CLI, batch report, GUI)."""
    if isinstance(exc, BgEraserError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "not enough memory for this image (try a smaller image or model)"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return f"internal error ({type(exc).__name__}: {exc})"
