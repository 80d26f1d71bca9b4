"""Raster images sent in chats: their dimensions, a thumbnail, and a copy without EXIF (where phones write the
place a photo was taken). An image Pillow cannot decode is no image, whatever its first bytes say.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps

THUMBNAIL_BOX = (320, 320)
THUMBNAIL_CONTENT_TYPE = "image/webp"
# The formats Pillow writes each type back in, when an image carried EXIF.
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


@dataclass(frozen=True)
class PreparedImage:
    width: int
    height: int
    thumbnail: bytes
    cleaned: bytes | None  # the image again without its metadata, when it carried EXIF; else None


def image_prepare(file: IO[bytes], content_type: str) -> PreparedImage | None:
    """Decode the image once: its size, a WebP thumbnail and, for a PNG, JPEG or WebP with EXIF, a copy without
    it (turned upright first, as the EXIF said). None when it does not decode, or has more pixels than
    ATTACHMENT_IMAGE_MAX_PIXELS (a decompression bomb)."""
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                if image.width * image.height > settings.ATTACHMENT_IMAGE_MAX_PIXELS:
                    return None
                image.load()
                cleaned = _without_metadata(image, content_type)
                upright = ImageOps.exif_transpose(image)
                thumbnail = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
                thumbnail.thumbnail(THUMBNAIL_BOX)
                out = io.BytesIO()
                thumbnail.save(out, format="WEBP", quality=80)
                return PreparedImage(
                    width=upright.width, height=upright.height, thumbnail=out.getvalue(), cleaned=cleaned
                )
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    finally:
        file.seek(0)


def _without_metadata(image: Image.Image, content_type: str) -> bytes | None:
    """The image written again, upright, without EXIF or text chunks; None when it has no EXIF (kept as sent)."""
    image_format = _FORMATS.get(content_type)
    if image_format is None or not image.getexif():
        return None
    upright = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 92} if image_format in ("JPEG", "WEBP") else {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    upright.save(out, format=image_format, **options)
    return out.getvalue()
