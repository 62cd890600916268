"""Ingest: files in the corpus folder -> cleaned documents -> chunks -> the index.

loading (one function per file type), isolation (each file read in a worker under time and memory
limits), cleaning (site furniture out), chunking (token-sized chunks with offsets), uploads (staged
admission of uploaded files), indexer (incremental, crash-safe writes), locks (who may write).
"""
