"""CLI: `similar`, `search`, `next`, `report` — thin shells over `reelvec.open(...)`."""
from __future__ import annotations

from reelvec.cli.common import EXAMPLES, add_filters, add_store, filters, print_hits, seconds
from reelvec.errors import ReelvecError


def _engine(args):
    import reelvec

    if args.qdrant_url:
        return reelvec.open(url=args.qdrant_url, api_key=args.api_key)
    return reelvec.open(args.store, api_key=args.api_key)


def _query_movie(engine, movie: str) -> tuple[int | str, dict, str]:
    """CLI movie argument -> (query for the engine, its payload, 'Title (Year)'), resolved once."""
    query: int | str = int(movie) if movie.isdigit() else movie
    also = ""
    if isinstance(query, str) and not (":" in query and " " not in query.split(":", 1)[0]):  # a title, not a key
        got = engine.resolve(query)
        query = got.entry.tmdb_id or query
        if got.alternatives:  # an exact title several films share: the best-known, and the others
            also = "; also: " + ", ".join(f"{e.title} ({e.year})" if e.year else e.title for e in got.alternatives[:4])
    payload = engine.movie(query)
    title, year = payload.get("title", movie), payload.get("year")
    return query, payload, (f"{title} ({year})" if year else title) + also


def cmd_similar(args) -> int:
    weights = None
    if args.weights:
        try:
            weights = {k: float(v) for k, v in (kv.split("=") for kv in args.weights.split(","))}
        except ValueError as exc:
            raise ReelvecError(f"--weights wants name=value pairs like text=1,image=0.3, got {args.weights!r}") from exc
    with _engine(args) as engine:
        query, _, label = _query_movie(engine, args.movie)
        exclude = [int(m) if m.isdigit() else m for m in args.exclude]
        hits = engine.similar(query, k=args.k, weights=weights, mode=args.mode, offset=args.offset, exclude=exclude,
                              exclude_series=args.exclude_series, group_by=args.group_by, diversity=args.diversity,
                              **filters(args))
        how = "by your weights" if weights else f"mode {args.mode or 'similar'}"
        print_hits(hits, args.json, f"movies like {label} ({how}):", args.wide, args.offset + 1)
    return 0


def cmd_search(args) -> int:
    with _engine(args) as engine:
        if args.image:
            hits = engine.search_image(args.image, k=args.k, **filters(args))
            header = f"posters like {args.image}:"
        else:
            if not args.text:
                raise ReelvecError("give a search text or --image PATH")
            exclude = [int(m) if m.isdigit() else m for m in args.exclude]
            hits = engine.search_text(" ".join(args.text), k=args.k, offset=args.offset, exclude=exclude,
                                      group_by=args.group_by, diversity=args.diversity, **filters(args))
            header = f"movies matching {' '.join(args.text)!r}:"
        print_hits(hits, args.json, header, args.wide, getattr(args, "offset", 0) + 1)
    return 0


def cmd_next(args) -> int:
    history = []
    for h in args.history:
        movie, _, rating = h.partition("@")
        movie = int(movie) if movie.isdigit() else movie
        try:
            history.append((movie, float(rating)) if rating else movie)
        except ValueError as exc:
            raise ReelvecError(f"bad rating in {h!r}; write TITLE@4.5") from exc
    with _engine(args) as engine:
        hits = engine.for_history(history, k=args.k, exclude_seen=not args.include_seen, **filters(args))
        seen = [_query_movie(engine, str(h[0] if isinstance(h, tuple) else h))[2] for h in history]
        print_hits(hits, args.json, f"after {', '.join(seen) or 'nothing yet'}, watch next:", args.wide)
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from reelvec.encoders.pipeline import fetched_posters
    from reelvec.search.html import write_results_page

    with _engine(args) as engine:
        query, rec, label = _query_movie(engine, args.query)
        hits = engine.similar(query, k=args.k, mode=args.mode, **filters(args))
        fetched = fetched_posters(Path(args.store) / "posters") if not args.qdrant_url else {}
        out = write_results_page(args.out, f"Movies like {label}", rec.get("poster"), hits,
                                 f"reelvec similar, mode {args.mode or 'similar'}", fetched)
    print(f"wrote {out}")
    return 0


def cmd_serve(args) -> int:
    import os

    from reelvec.app.serve import ServeConfig, serve

    cfg = ServeConfig(host=args.host, port=args.port, api_key=args.key or os.environ.get("REELVEC_API_KEY"),
                      max_body=args.max_body, rate=args.rate, burst=max(1, int(args.rate * 2)),
                      allow_edits=args.allow_edits, workers=args.workers, cache=args.cache, edit_wait=args.wait,
                      cors=tuple(args.cors or ()))
    if cfg.cache < 0:
        raise ReelvecError(f"--cache must be 0 (none) or more answers, got {cfg.cache}")
    if cfg.workers < 1:
        raise ReelvecError(f"--workers must be at least 1, got {cfg.workers}")
    if cfg.allow_edits and not cfg.api_key and args.host not in ("127.0.0.1", "localhost", "::1"):
        raise ReelvecError(f"--allow-edits on {args.host} without an API key would let anyone who reaches it edit "
                           "the index; give --key (or $REELVEC_API_KEY)")
    with _engine(args) as engine:
        _ = engine.collection  # fail now, with the usual message, if there is no index
        try:
            serve(engine, cfg, ready=lambda url: print(f"reelvec serving on {url} (Ctrl-C stops)", flush=True))
        except OSError as exc:
            raise ReelvecError(f"cannot listen on {args.host}:{args.port} ({exc}); pick another --port") from exc
    return 0


def add_list_options(p) -> None:
    p.add_argument("--offset", type=int, default=0, help="skip this many hits: a page (--offset 10 -k 10 is hits "
                   "11-20 of -k 20)")
    p.add_argument("--exclude", action="append", default=[], metavar="MOVIE",
                   help="never list this movie (title, TMDB id or key; repeatable)")
    p.add_argument("--group-by", choices=["series"], help="one hit per series (its best)")
    p.add_argument("--diversity", type=float, default=0.0, help="0 (default) to 1: mix in films unlike those "
                   "already listed (maximal marginal relevance over the best 30); 0.1-0.2 is a mild mix")


def register(sub) -> None:
    si = sub.add_parser("similar", help="movies like a given movie (title or TMDB id)",
                        description="Movies like MOVIE; filters are pushed down to Qdrant. --mode picks what "
                        "'similar' means: similar (default: the same series, franchise, director and lead actors "
                        "and genre first, blended with what the same people liked; a shared title word counts only "
                        "with a shared series, people or plot), also-liked (what the same people liked: the co-liked "
                        "embedding alone) or content (no ratings signal; films near everything are demoted). The "
                        "'why' column says which signal placed each hit. A title several films share is the "
                        "best-known one ('also: ...' names the others); titles other sources give a film work too "
                        "('Seven' is Se7en).",
                        epilog='examples:\n  reelvec similar "Alien" -k 10 --genre "Science Fiction" --after 1990\n'
                        '  reelvec similar "Toy Story" --exclude-series --diversity 0.3\n'
                        '  reelvec similar "The Matrix" --mode also-liked\n'
                        '  reelvec similar 603 --weights text=1,image=0.3 --json', formatter_class=EXAMPLES)
    si.add_argument("movie", help="a title (fuzzy, 'Dune (1984)' for a year) or a TMDB id")
    si.add_argument("--mode", choices=["similar", "also-liked", "content"],
                    help="what similar means (default: similar; the presets are saved with the model)")
    si.add_argument("--weights", help="hand-set modality weights over fused/text/image instead of a mode, "
                    "e.g. text=1,image=0.3")
    add_list_options(si)
    si.add_argument("--exclude-series", action="store_true", help="leave out the films of the query's own series")
    add_filters(si)
    si.set_defaults(func=cmd_similar)

    se = sub.add_parser("search", help="free-text search, or posters like an image",
                        description="Movies whose plots match TEXT, or whose posters look like --image. Text: the "
                        "200 nearest films by description cosine, ranked by that cosine plus the query's words found "
                        "in their plots (overview, keywords, genres; never the title) plus a mild popularity prior; "
                        "the 'why' column lists the plot words matched. Describe the film, not its title: "
                        "'a clownfish father crosses the ocean to find his son'. Filters are pushed down to Qdrant.",
                        epilog='examples:\n  reelvec search "a heist comedy in paris" -k 10\n'
                        "  reelvec search --image poster.jpg", formatter_class=EXAMPLES)
    se.add_argument("text", nargs="*", help="what to look for")
    se.add_argument("--image", help="a poster image to search by")
    add_list_options(se)
    add_filters(se)
    se.set_defaults(func=cmd_search)

    nx = sub.add_parser("next", help="what to watch next after a watch history (oldest first)",
                        description="Recommend the next movie from a watch history, oldest first. Items are titles or "
                        "TMDB ids, optionally with a rating as TITLE@4.5. Empty history: popular within the filters; one "
                        "movie: movies like it; more: the sequence model trained on MovieLens watch orders.",
                        epilog='example: reelvec next "Alien" "Aliens" "Predator" -k 10 --after 1980')
    nx.add_argument("history", nargs="*", help="watched movies, oldest first")
    nx.add_argument("--include-seen", action="store_true", help="allow movies from the history in the results")
    add_filters(nx)
    nx.set_defaults(func=cmd_next)

    rp = sub.add_parser("report", help="a static HTML page: the query poster and a grid of result posters",
                        description="Write a static HTML page for QUERY: its poster and a grid of the posters of "
                        "the movies like it (the default similar), with titles, years and why each is there.",
                        epilog='example: reelvec report --query "Alien" --out reports/alien.html')
    rp.add_argument("--query", required=True, help="a title or TMDB id")
    rp.add_argument("--mode", choices=["similar", "also-liked", "content"],
                    help="what similar means (default: similar), as for `reelvec similar`")
    rp.add_argument("--out", default="reports/similar.html", help="HTML file to write (default: %(default)s)")
    add_filters(rp)
    rp.set_defaults(func=cmd_report)

    sv = sub.add_parser("serve", help="the search API over HTTP (JSON), models loaded once",
                        description="Serve similar/search/search-image/recommend/next/movie/info/health as JSON "
                        "endpoints (OpenAPI at /openapi.json). Reads the store through its published copies, so "
                        "builds and reindexes can run beside it; it follows the alias when they move it.",
                        epilog="examples:\n  reelvec serve --port 8080\n"
                        "  curl 'http://127.0.0.1:8080/similar?movie=Alien&k=5&genres=Horror'\n"
                        "  curl -X POST localhost:8080/search -d '{\"text\": \"a heist comedy in paris\", \"k\": 5}'",
                        formatter_class=EXAMPLES)
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s; 0.0.0.0 for all)")
    sv.add_argument("--port", type=int, default=8080, help="port (default %(default)s; 0 = any free port)")
    sv.add_argument("--key", help="require this API key (X-API-Key header); default $REELVEC_API_KEY, else none")
    sv.add_argument("--rate", type=float, default=200.0, help="requests/s per client address (default %(default)s; 0 = "
                    "no limit)")
    sv.add_argument("--max-body", type=int, default=8 * 1024 * 1024, help="largest request body in bytes (default 8 MB)")
    sv.add_argument("--workers", type=int, default=1, help="processes answering on the port, each new connection going "
                    "to the least loaded one (default "
                    "%(default)s). More than the cores you can spare only adds queueing; rate limits are per worker")
    sv.add_argument("--cache", type=int, default=4096, help="answers each worker keeps for repeated queries (default "
                    "%(default)s; 0 = none); a reindex, rollback or live edit retires them all")
    sv.add_argument("--allow-edits", action="store_true", help="enable POST /movies and DELETE /movies/{movie} (live "
                    "edits, as `reelvec add` / `delete`); off by default, and beyond localhost only with --key")
    sv.add_argument("--wait", type=seconds, default=30.0, metavar="SECONDS",
                    help="with --allow-edits: how long an edit waits for another writer of the home (a build's "
                    "alias swap) before it answers 503 with Retry-After (default %(default)s)")
    sv.add_argument("--cors", action="append", metavar="ORIGIN", help="with --allow-edits: a web origin whose pages "
                    "may send edits, e.g. https://admin.example.com (repeatable); edits from any other Origin are "
                    "refused, and every edit must be Content-Type: application/json")
    sv.add_argument("--quiet", action="store_true", help="warnings only")
    add_store(sv, data=False)
    sv.set_defaults(func=cmd_serve)
