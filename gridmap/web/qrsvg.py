"""A QR code as inline SVG markup, from the QR encoder the printed maps already use (reportlab's)."""

from __future__ import annotations

import itertools

from markupsafe import Markup


def qr_svg(text: str, module_px: int = 5, border: int = 4, label: str = "QR code") -> Markup:
    """An <svg> of `text` (error correction M): one path of the dark runs of each row."""
    from reportlab.graphics.barcode import qrencoder

    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    n = code.getModuleCount()
    side = n + 2 * border
    runs = []
    for r, row in enumerate(code.modules):
        col = 0
        for dark, run in itertools.groupby(bool(v) for v in row):
            k = len(list(run))
            if dark:
                runs.append(f"M{border + col} {border + r}h{k}v1h-{k}z")
            col += k
    px = side * module_px
    return Markup(f'<svg role="img" aria-label="{label}" width="{px}" '
                  f'height="{px}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
                  f'<rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{"".join(runs)}"/></svg>')
