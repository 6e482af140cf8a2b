"""Reading and validating a shop's product and event files: files in, typed frames and errors out.

1. ``reading.read_chunks`` yields the file's rows in chunks of text fields, each row with its
   line number in the file.
2. ``validation.events_check`` / ``products_check`` turn a chunk into the typed rows that
   passed and an error per bad field.

The services in ``catalog.services`` (``events_import``, ``products_import``) drive both
chunk by chunk and do the writing; the columns come from ``catalog.columns``.
"""
