"""Images and jobs for the jobs tests."""

from __future__ import annotations

import base64
import io
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import User
from api.models import Job

FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: str = "white") -> bytes:
    buffer = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new(mode if mode == "RGB" else "RGB", size, color).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def animated_gif() -> bytes:
    buffer = io.BytesIO()
    frames = [Image.new("RGB", (16, 16), color) for color in ("red", "blue")]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def upload(data: bytes, name: str = "problem.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{b64(data)}"


def make_job(user: User, *, status: str = Job.Status.QUEUED, **fields: Any) -> Job:
    """A job as submission leaves it (image stored), in any state."""
    now = timezone.now()
    job = Job(
        user=user,
        status=status,
        model=fields.pop("model", "gpt-4o-mini"),
        image_format="png",
        image_width=64,
        image_height=48,
        published_at=fields.pop("published_at", now),
        **fields,
    )
    data = image_bytes()
    job.image_bytes = len(data)
    job.image.save("input.png", ContentFile(data), save=False)
    job.save()
    return job


def stored_inputs() -> set[str]:
    """The input images in storage now (MEDIA_ROOT/inputs)."""
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.MEDIA_ROOT) / "inputs"
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
