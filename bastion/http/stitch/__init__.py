"""The MongoDB Stitch / Realm client HTTP API."""
