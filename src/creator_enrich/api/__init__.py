"""HTTP only: routers, request/response schemas, dependencies and error handlers."""
