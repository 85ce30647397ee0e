"""GraphQL at /graphql (Strawberry)."""

from fastapi import APIRouter

graphql_router = APIRouter()
