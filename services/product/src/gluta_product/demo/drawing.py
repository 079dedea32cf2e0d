"""Demo pictures drawn locally with Pillow: a distinct colour, pattern and label per product."""

from __future__ import annotations

import colorsys
import io

from PIL import Image, ImageDraw, ImageFont

PATTERNS = ("stripes", "dots", "checks", "diagonal", "rings", "waves", "grid")


def _colour(index: int, saturation: float = 0.55, value: float = 0.9) -> tuple[int, int, int]:
    hue = (index * 0.61803398875) % 1.0  # golden-ratio steps: neighbours never look alike
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return int(r * 255), int(g * 255), int(b * 255)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def draw_product(index: int, label: str, pattern: str, fmt: str = "PNG", size: int = 600) -> bytes:
    """Return a square picture for demo product `index`."""
    background = _colour(index)
    ink = _colour(index + 3, saturation=0.7, value=0.55)
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    step = 40 + (index % 4) * 10
    if pattern == "stripes":
        for x in range(0, size, step):
            draw.rectangle([x, 0, x + step // 3, size], fill=ink)
    elif pattern == "dots":
        for x in range(step // 2, size, step):
            for y in range(step // 2, size, step):
                draw.ellipse([x - 8, y - 8, x + 8, y + 8], fill=ink)
    elif pattern == "checks":
        for x in range(0, size, step):
            for y in range(0, size, step):
                if (x // step + y // step) % 2 == 0:
                    draw.rectangle([x, y, x + step, y + step], fill=ink)
    elif pattern == "diagonal":
        for d in range(-size, size, step):
            draw.line([d, 0, d + size, size], fill=ink, width=step // 4)
    elif pattern == "rings":
        for r in range(step, size, step):
            draw.ellipse([size / 2 - r, size / 2 - r, size / 2 + r, size / 2 + r], outline=ink, width=6)
    elif pattern == "waves":
        for y in range(0, size, step):
            points = [(x, y + 12 * ((x // 20) % 2)) for x in range(0, size + 20, 20)]
            draw.line(points, fill=ink, width=5)
    else:
        for x in range(0, size, step):
            draw.line([x, 0, x, size], fill=ink, width=3)
            draw.line([0, x, size, x], fill=ink, width=3)
    panel = (size // 10, size * 2 // 5, size * 9 // 10, size * 3 // 5)
    draw.rounded_rectangle(panel, radius=18, fill=(255, 255, 255))
    font_size = size // 14
    font = _font(font_size)
    while font_size > 12 and draw.textlength(label, font=font) > (panel[2] - panel[0]) * 0.9:
        font_size -= 2
        font = _font(font_size)
    draw.text((size // 2, size // 2), label, fill=(30, 30, 30), font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": 85, "method": 0} if fmt == "WEBP" else {}))
    return out.getvalue()


def draw_banner(index: int, title: str, width: int = 1200, height: int = 400) -> bytes:
    """Return a wide banner picture with a gradient and a title."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    left, right = _colour(index * 7 + 1, 0.6, 0.95), _colour(index * 7 + 4, 0.6, 0.6)
    for x in range(width):
        t = x / (width - 1)
        draw.line([x, 0, x, height], fill=tuple(int(a + (b - a) * t) for a, b in zip(left, right, strict=True)))
    draw.text((width // 2, height // 2), title, fill=(255, 255, 255), font=_font(height // 6), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
