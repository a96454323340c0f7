"""The service's one typed schema (pydantic): every request body and query string is validated by
these models, every error body is `ErrorBody`, and the OpenAPI 3.1 document (`openapi_spec`) is
generated from them and from `ROUTES`, so the three cannot disagree. Responses are documented by
`HitsBody` / `QueryBody`, which a test checks against real answers and the Python client's `Hit`.

Strict types: ``k`` is an integer (1.9, true, "3" and 1e400 are 400s), flags are booleans;
unknown fields are refused with the list of known ones.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from reelvec.errors import SearchError
from reelvec.search.engine import MAX_EXCLUDE, MAX_TEXT  # the engine's own bounds, checked before any work
from reelvec.search.lists import MAX_OFFSET

MAX_K = 1000
MAX_MOVIES = 100  # positives + negatives of one /recommend
MAX_HISTORY = 1000  # items of one /next history
MAX_EDIT = 1000  # movies of one POST /movies
POSTER_WIDTHS = (92, 154, 185, 342, 500, 780)  # ?w= sizes of GET /posters/{movie} (TMDB's own steps)

MovieRef = Annotated[StrictInt | StrictStr, Field(description="a title (fuzzy, 'Dune (1984)' for a year), a key "
                                                              "('own:sku-1') or a TMDB id")]
Names = Annotated[StrictStr | list[StrictStr], Field(description="a name or a list of names")]
K = Annotated[StrictInt, Field(ge=1, le=MAX_K, description="how many hits")]
Year = Annotated[StrictInt, Field(description="a year, inclusive")]
Rating = Annotated[float, Field(ge=0.5, le=5, strict=True)]  # strict float: ints pass, bools and strings do not


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(Strict):
    """Payload filters, pushed down to Qdrant."""

    genres: Names | None = Field(None, description="any of these genres")
    genres_all: Names | None = Field(None, description="all of these genres")
    exclude_genres: Names | None = Field(None, description="none of these genres")
    years: tuple[Year | None, Year | None] | None = Field(None, description="[from, to]")
    after: Year | None = None
    before: Year | None = None
    languages: Names | None = Field(None, description="original language codes, e.g. en")

    def filters(self) -> dict:
        return self.model_dump(include=set(Filters.model_fields), exclude_none=True)


class ResolveRequest(Strict):
    movie: MovieRef


class ListRequest(Filters):
    """What a site needs from a list: pages, exclusions, one per series, diversity."""

    offset: Annotated[StrictInt, Field(ge=0, le=MAX_OFFSET, description="skip this many hits (pages agree with a "
                                                                        "longer k)")] = 0
    exclude: Annotated[list[MovieRef], Field(max_length=MAX_EXCLUDE, description=(
        "never return these: TMDB ids, keys or exact titles (one not in the index is ignored; for long lists "
        "use POST)"))] = []
    group_by: Literal["series"] | None = Field(None, description="one hit per series, its best")
    diversity: Annotated[float, Field(ge=0, le=1, strict=True, description=(
        "0 = relevance only .. 1: maximal marginal relevance over the best 30; 0.1-0.2 is a mild mix"))] = 0.0

    def lists(self) -> dict:
        return {"offset": self.offset, "exclude": self.exclude, "group_by": self.group_by, "diversity": self.diversity}


class SearchRequest(ListRequest):
    text: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT, description="what the film is about")]
    k: K = 10


class SimilarRequest(ListRequest):
    movie: MovieRef
    k: K = 10
    mode: StrictStr | None = Field(None, description="similar (default), also-liked, content, or a preset saved "
                                                     "with the model")
    weights: dict[str, StrictInt | StrictFloat] | None = Field(
        None, description="hand-set weights over fused/text/image cosines (instead of a mode)")
    exclude_series: StrictBool = Field(False, description="leave out the films of the query's own series")


class ImageSearchRequest(Filters):
    k: K = 10


class RecommendRequest(Filters):
    positive: Annotated[list[MovieRef], Field(min_length=1, max_length=MAX_MOVIES)]
    negative: Annotated[list[MovieRef], Field(max_length=MAX_MOVIES)] = []
    k: K = 10


class NextRequest(Filters):
    history: Annotated[list[MovieRef | tuple[MovieRef, Rating]], Field(
        max_length=MAX_HISTORY, description="oldest first; each a movie or [movie, rating 0.5-5]")]
    k: K = 10
    exclude_seen: StrictBool = True


class EditRequest(Strict):
    movies: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_EDIT, description=(
        "reelvec fields: id, title (required, at most 300 characters), year, overview, genres, keywords, cast, "
        "director, tmdb_id, poster (an http(s) URL) ..."))]


class PosterRequest(Strict):
    w: Literal[92, 154, 185, 342, 500, 780] | None = None


# ------------------------------------------------------------------------------------- responses
class AlsoBody(BaseModel):
    id: int | None
    title: str
    year: int | None


class QueryBody(BaseModel):
    """What a query movie resolved to."""

    id: int | None
    key: str
    title: str
    year: int | None
    how: Literal["exact", "alias", "best-known", "folded", "fuzzy", "key", "id"]
    also: list[AlsoBody] = Field(description="the other films an exact title shared by several names")


class RecommendQueryBody(BaseModel):
    positive: list[QueryBody]
    negative: list[QueryBody]


class HistoryQueryBody(BaseModel):
    history: list[QueryBody]


class HitBody(BaseModel):
    tmdb_id: int | None
    title: str
    year: int | None
    genres: list[str]
    score: float
    key: str
    poster_url: str | None = Field(description="served by this service (/posters/{key}) or the poster's own URL")
    series: str | None
    director: str | None
    overview: str | None
    tmdb_url: str | None
    imdb_url: str | None
    why: str
    explanation: dict[str, Any]


class HitsBody(BaseModel):
    query: QueryBody | RecommendQueryBody | HistoryQueryBody | None = Field(
        None, description="what the request resolved to: /similar a movie, /recommend positive and negative, "
                          "/next the history")
    hits: list[HitBody]


class ErrorBody(BaseModel):
    error: str
    candidates: list[list[Any]] | None = Field(None, description="close titles (404)")


class WrittenBody(BaseModel):
    written: list[str]


class DeletedBody(BaseModel):
    deleted: list[str]


def parse(model: type[BaseModel], data: dict):
    """`data` validated by `model`, or a SearchError naming each bad field and why."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SearchError(explain(exc, model)) from None


def explain(exc: ValidationError, model: type[BaseModel]) -> str:
    parts = []
    for e in exc.errors(include_url=False)[:4]:
        where = ".".join(str(x) for x in e["loc"]) or "body"
        got = e.get("input")
        shown = repr(got)[:40] if not isinstance(got, (dict, list)) else type(got).__name__
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown field {where!r}; fields are {', '.join(model.model_fields)}")
        elif e["type"] == "missing":
            parts.append(f"give {where!r} ({model.model_fields[str(e['loc'][0])].description or 'required'})"
                         if str(e["loc"][0]) in model.model_fields else f"give {where!r}")
        else:
            parts.append(f"{where}: {e['msg']} (got {shown})")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------- OpenAPI
ROUTES: list[tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None, bool]] = [
    # (method, path, summary, request model, response model, needs the API key)
    ("get", "/health", "liveness and the collection served", None, None, False),
    ("get", "/info", "collection, points, vectors, answer cache", None, None, True),
    ("get", "/openapi.json", "this document", None, None, False),
    ("get", "/movies/{movie}", "one movie's payload (paths never: posters are poster_url)", None, None, True),
    ("get", "/resolve", "which film a title names, and the others it could name", ResolveRequest, QueryBody, True),
    ("get", "/posters/{movie}", "a movie's poster image (resized with ?w=; ETag, Cache-Control)", PosterRequest, None,
     False),
    ("get", "/similar", "movies like a movie", SimilarRequest, HitsBody, True),
    ("post", "/similar", "movies like a movie", SimilarRequest, HitsBody, True),
    ("get", "/search", "movies whose plots match a text", SearchRequest, HitsBody, True),
    ("post", "/search", "movies whose plots match a text", SearchRequest, HitsBody, True),
    ("post", "/search/image", "posters like the image in the body (filters and k as query parameters)",
     ImageSearchRequest, HitsBody, True),
    ("post", "/recommend", "like these, unlike those (one positive: what similar answers)", RecommendRequest, HitsBody,
     True),
    ("post", "/next", "what to watch next after a history, oldest first", NextRequest, HitsBody, True),
    ("post", "/movies", "add or replace movies live (--allow-edits; Content-Type application/json)", EditRequest,
     WrittenBody, True),
    ("delete", "/movies/{movie}", "delete a movie live (--allow-edits; TMDB id, key or exact title)", None,
     DeletedBody, True),
]
QUERY_STRING = {"get"}  # methods whose request model is read from the query string
ERRORS = {"400": "bad input (each bad field named)", "401": "API key missing or wrong",
          "403": "edits not allowed, or a foreign Origin", "404": "unknown movie (close titles in candidates)",
          "413": "body too large", "415": "an edit that is not application/json",
          "429": "rate limited (Retry-After)", "503": "store unavailable or past the deadline (Retry-After)"}


def openapi_spec() -> dict:
    """The OpenAPI 3.1 document of every route, from the models above."""
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict:
        s = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(s.pop("$defs", {}))
        schemas[model.__name__] = s
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {"application/json": {"schema": ref(ErrorBody)}}
    paths: dict[str, dict] = {}
    for method, path, summary, request, response, keyed in ROUTES:
        op: dict[str, Any] = {"summary": summary, "responses": {
            "200": {"description": "ok", "content": {"image/*" if path.startswith("/posters") else "application/json":
                                                     {"schema": ref(response) if response else {"type": "object"}}}},
            **{code: {"description": text, "content": error} for code, text in ERRORS.items()}}}
        if not keyed:
            op["security"] = []
        params = [{"name": name[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in path.split("/") if name.startswith("{")]
        if request is not None and method in QUERY_STRING:
            body_schema = request.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(body_schema.pop("$defs", {}))
            required = set(body_schema.get("required", ()))
            for name, prop in body_schema["properties"].items():
                if name == "weights":
                    continue  # POST only
                array = prop.get("type") == "array" or any(p.get("type") == "array" for p in prop.get("anyOf", ()))
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop}
                              | ({"style": "form", "explode": True} if array else {}))
        elif request is not None and path == "/search/image":
            params += [{"name": n, "in": "query", "required": False, "schema": p}
                       for n, p in request.model_json_schema()["properties"].items() if "$ref" not in str(p)]
            op["requestBody"] = {"required": True, "content": {"image/*": {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}
        elif request is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(request)}}}
        if params:
            op["parameters"] = params
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "reelvec", "version": "2", "description": "Multimodal movie search over one collection: "
                 "similar, text and poster search, recommend, watch-next, live edits."},
        "components": {"schemas": schemas,
                       "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
        "security": [{"key": []}],
        "paths": paths,
    }
