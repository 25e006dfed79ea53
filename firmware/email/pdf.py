"""A small PDF writer for scanned pages: each page one bilevel image coded in T.6 (MMR).

The image streams are the machine's own MMR code (`firmware.codec`, first bit in the most
significant bit as PDF wants it) under `/CCITTFaxDecode` with `/K -1` (ISO 32000-1 7.4.6), so a
page costs what it costs on the fax line in MMR, and every PDF reader decodes it. The output is
deterministic: same pages and date, same bytes.
"""

from __future__ import annotations

from datetime import datetime

from estudio190f.firmware.page import X_DPI, Page
from estudio190f.firmware.reports import clean

POINTS_PER_INCH = 72


def _pdf_text(text: str) -> bytes:
    """A PDF literal string: printable ASCII with the three special characters escaped."""
    escaped = clean(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})".encode("ascii")


def write_pdf(
    pages: list[Page], *, created: datetime, title: str = "", producer: str = ""
) -> bytes:
    """The pages as one PDF, one image per page, page size from the scan resolution."""
    if not pages:
        raise ValueError("a PDF needs at least one page")
    # Imported here so that loading the e-mail engine does not load the codec's tables.
    from estudio190f.firmware import codec

    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree's number is known
    tree = add(b"")
    page_refs: list[int] = []
    for page in pages:
        mmr = codec.encode(page.pixels, "mmr", msb_first=True)
        width_pt = page.width * POINTS_PER_INCH / X_DPI
        height_pt = page.lines * POINTS_PER_INCH / page.y_dpi
        image = add(
            (
                f"<< /Type /XObject /Subtype /Image /Width {page.width} /Height {page.lines} "
                f"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode "
                f"/DecodeParms << /K -1 /Columns {page.width} /Rows {page.lines} >> "
                f"/Length {len(mmr)} >>\nstream\n"
            ).encode("ascii")
            + mmr
            + b"\nendstream"
        )
        drawing = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /Im0 Do Q".encode("ascii")
        contents = add(
            f"<< /Length {len(drawing)} >>\nstream\n".encode("ascii") + drawing + b"\nendstream"
        )
        page_refs.append(
            add(
                (
                    f"<< /Type /Page /Parent {tree} 0 R "
                    f"/MediaBox [0 0 {width_pt:.4f} {height_pt:.4f}] "
                    f"/Resources << /XObject << /Im0 {image} 0 R >> >> "
                    f"/Contents {contents} 0 R >>"
                ).encode("ascii")
            )
        )
    kids = " ".join(f"{n} 0 R" for n in page_refs)
    objects[tree - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_refs)} >>".encode()
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R >>".encode()
    info = add(
        b"<< /Title "
        + _pdf_text(title)
        + b" /Producer "
        + _pdf_text(producer)
        + b" /CreationDate "
        + _pdf_text(f"D:{created:%Y%m%d%H%M%S}")
        + b" >>"
    )

    # The binary comment line tells transfer programs the file is not text (ISO 32000-1 7.5.2).
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode("ascii")
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode("ascii")
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)
