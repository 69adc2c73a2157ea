"""Image files that are small on disk and huge once decoded, written without ever holding their pixels.

    blank_png(path, 640, 130_000)   # 640 x 130000: about 10 KB on disk, 238 MiB as RGB
    blank_png(path, 20_000, 20_000) # 400 Mpx: past Pillow's own DecompressionBombError limit

A real, valid PNG (black and white, 1 bit a pixel, every row zero): any decoder would decode it in full.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_ROWS_PER_CHUNK = 4096


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(path: Path, width: int, height: int) -> Path:
    """A width x height PNG of black pixels, compressed row block by row block (memory stays small)."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter type 0, then the row's bits
    compressor = zlib.compressobj(9)
    data = bytearray()
    for start in range(0, height, _ROWS_PER_CHUNK):
        data += compressor.compress(row * min(_ROWS_PER_CHUNK, height - start))
    data += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", bytes(data))
                     + _chunk(b"IEND", b""))
    return path
