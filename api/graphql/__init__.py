"""GraphQL at /graphql (Strawberry): ``graphql_router`` is included by ``api/app.py``."""

from api.graphql.router import make_router

graphql_router = make_router()

__all__ = ["graphql_router"]
