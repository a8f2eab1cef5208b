"""Input images: decoded for real with Pillow before a job is accepted, so the
model is never sent something that is not an image of an allowed kind."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from config.problems import Problem

# Pillow format name -> (MIME type, file extension).
ALLOWED_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}


@dataclass(frozen=True)
class ValidatedImage:
    data: bytes
    format: str
    width: int
    height: int
    sha256: str

    @property
    def extension(self) -> str:
        return ALLOWED_FORMATS[self.format][1]


def _invalid(detail: str) -> Problem:
    return Problem(status=400, slug="invalid-image", detail=detail, extra={"errors": {"image": [detail]}})


def _too_large(detail: str) -> Problem:
    return Problem(status=413, slug="image-too-large", detail=detail, extra={"errors": {"image": [detail]}})


def image_too_large_bytes() -> Problem:
    """413 for an image over JOB_MAX_IMAGE_BYTES, however it was sent."""
    return _too_large(f"The image is larger than {settings.JOB_MAX_IMAGE_BYTES} bytes.")


# MIME types a data URL may declare -> the Pillow format it must hold.
_DATA_URL_TYPES = {mime: fmt for fmt, (mime, _) in ALLOWED_FORMATS.items()} | {"image/jpg": "JPEG"}


def _data_url_format(header: str) -> str:
    """The Pillow format a `data:<type>[;params];base64` header declares."""
    params = header.removeprefix("data:").split(";")
    if len(params) < 2 or params[-1].strip().lower() != "base64":
        raise _invalid("A data URL must be of the form data:image/<type>;base64,<data>.")
    mime = params[0].strip().lower()
    if mime not in _DATA_URL_TYPES:
        raise _invalid(
            f"A data URL must declare {', '.join(mime for mime, _ in ALLOWED_FORMATS.values())}, "
            f"not {mime[:64] or 'no type'}."
        )
    return _DATA_URL_TYPES[mime]


def _sniffed_format(data: bytes) -> str | None:
    """The format Pillow reads in the header (no pixels decoded); None if it
    is no image it knows, which image_validate reports."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return "JPEG" if image.format == "MPO" else image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def image_from_base64(text: str) -> bytes:
    """Bytes of an image given as base64 or as a `data:image/...;base64,` URL.
    A data URL's declared type must be an accepted one and match the image."""
    text = text.strip()
    declared = None
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep:
            raise _invalid("A data URL must be of the form data:image/<type>;base64,<data>.")
        declared = _data_url_format(header)
    # Refuse before decoding anything that could not fit the byte limit.
    if len(text) > settings.JOB_MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise image_too_large_bytes()
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The image is not valid base64.") from None
    if declared is not None:
        actual = _sniffed_format(data)
        if actual is not None and actual != declared:
            raise _invalid(f"The data URL declares {ALLOWED_FORMATS[declared][0]} but the image is {actual}.")
    return data


def image_validate(data: bytes) -> ValidatedImage:
    """Decode the whole image and check its kind and size; raise a Problem
    (400 invalid-image, 413 image-too-large) otherwise."""
    if not data:
        raise _invalid("The image is empty.")
    if len(data) > settings.JOB_MAX_IMAGE_BYTES:
        raise image_too_large_bytes()
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is stricter; Pillow's warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                # Multi-picture JPEGs (iPhones, cameras: the photo plus depth
                # or preview pictures) are JPEGs whose first picture is the
                # photo; any JPEG decoder shows it. Not an animation.
                multi_picture_jpeg = fmt == "MPO"
                if multi_picture_jpeg:
                    fmt = "JPEG"
                if fmt not in ALLOWED_FORMATS:
                    raise _invalid(
                        f"Image format {fmt or 'unknown'} is not accepted; use PNG, JPEG, WEBP or GIF."
                    )
                width, height = image.size
                # Checked from the header, before decoding: a bomb is refused
                # without allocating its pixels.
                if width * height > settings.JOB_MAX_IMAGE_PIXELS:
                    raise _too_large(
                        f"The image has {width}x{height} pixels; "
                        f"at most {settings.JOB_MAX_IMAGE_PIXELS} are accepted."
                    )
                if getattr(image, "is_animated", False) and not multi_picture_jpeg:
                    raise _invalid("Animated images are not accepted.")
                image.load()
    except UnidentifiedImageError:
        raise _invalid("The file is not an image of an accepted format (PNG, JPEG, WEBP, GIF).") from None
    except Image.DecompressionBombError:
        raise _too_large("The image decompresses to too many pixels.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # Truncated or corrupt data fails while decoding.
        raise _invalid(f"The image could not be decoded: {exc}.") from None
    return ValidatedImage(
        data=data, format=fmt, width=width, height=height, sha256=hashlib.sha256(data).hexdigest()
    )
