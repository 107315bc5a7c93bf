"""The REST API process (FastAPI): `uvicorn api.app:create_app --factory`, or `outlast api`."""
