"""Upload handlers with larger chunks.

Django's multipart parser walks the body in steps of its handlers' smallest ``chunk_size``
(64 KiB by default), in Python; 1 MiB steps make a large upload several times cheaper to
parse, and memory stays bounded (small files in memory, the rest streamed to a temp file).
"""

from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler

CHUNK = 1 << 20


class LargeChunkMemoryHandler(MemoryFileUploadHandler):
    chunk_size = CHUNK


class LargeChunkTemporaryFileHandler(TemporaryFileUploadHandler):
    chunk_size = CHUNK
