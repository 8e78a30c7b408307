"""Check an image's digest on the centre before anything is submitted."""

from __future__ import annotations

from heroes_core.errors import ImageError
from heroes_core.models import ImageRef
from heroes_core.transport import Transport


def verify_image(transport: Transport, image: ImageRef) -> None:
    """Raise :class:`ImageError` unless the file on the centre has the expected digest."""
    result = transport.run(["sha256sum", "--", image.path], timeout=600)
    if not result.ok:
        raise ImageError(
            f"image {image.path} cannot be read: {result.describe()}", site=transport.site,
            fix="publish the image to the centre (or correct the path) before running the job",
        )
    actual = result.stdout.split()[0] if result.stdout.split() else ""
    if actual != image.hex_digest:
        raise ImageError(
            f"image {image.path} has digest sha256:{actual}, not the expected {image.digest}",
            site=transport.site,
            fix="republish the right image, or use the digest of the image you meant",
        )
