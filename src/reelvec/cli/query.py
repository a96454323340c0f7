"""CLI: `similar`, `search`, `next`, `report` — thin shells over `reelvec.open(...)`."""
from __future__ import annotations

from reelvec.cli.common import EXAMPLES, add_filters, filters, print_hits
from reelvec.errors import ReelvecError


def _engine(args):
    import reelvec

    if args.qdrant_url:
        return reelvec.open(url=args.qdrant_url, api_key=args.api_key)
    return reelvec.open(args.store, api_key=args.api_key)


def _query_movie(engine, movie: str) -> tuple[int | str, dict, str]:
    """CLI movie argument -> (query for the engine, its payload, 'Title (Year)'), resolved once."""
    query = int(movie) if movie.isdigit() else movie
    payload = engine.movie(query)
    title, year = payload.get("title", movie), payload.get("year")
    return query, payload, f"{title} ({year})" if year else title


def cmd_similar(args) -> int:
    weights = None
    if args.weights:
        try:
            weights = {k: float(v) for k, v in (kv.split("=") for kv in args.weights.split(","))}
        except ValueError as exc:
            raise ReelvecError(f"--weights wants name=value pairs like text=1,image=0.3, got {args.weights!r}") from exc
    with _engine(args) as engine:
        query, _, label = _query_movie(engine, args.movie)
        print_hits(engine.similar(query, k=args.k, weights=weights, **filters(args)), args.json, f"movies like {label}:")
    return 0


def cmd_search(args) -> int:
    with _engine(args) as engine:
        if args.image:
            hits = engine.search_image(args.image, k=args.k, **filters(args))
            header = f"posters like {args.image}:"
        else:
            if not args.text:
                raise ReelvecError("give a search text or --image PATH")
            hits = engine.search_text(" ".join(args.text), k=args.k, **filters(args))
            header = f"movies matching {' '.join(args.text)!r}:"
        print_hits(hits, args.json, header)
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
        print_hits(hits, args.json, f"after {len(history)} movie(s), watch next:")
    return 0


def cmd_report(args) -> int:
    from reelvec.search.html import write_results_page

    with _engine(args) as engine:
        query, rec, label = _query_movie(engine, args.query)
        hits = engine.similar(query, k=args.k, **filters(args))
        out = write_results_page(args.out, f"Movies like {label}", rec.get("poster"), hits,
                                 "reelvec fused embedding: text + poster + structured fields")
    print(f"wrote {out}")
    return 0


def register(sub) -> None:
    si = sub.add_parser("similar", help="movies like a given movie (title or TMDB id)",
                        description="Movies like MOVIE, by the fused embedding; filters are pushed down to Qdrant.",
                        epilog='examples:\n  reelvec similar "Alien" -k 10 --genre "Science Fiction" --after 1990\n'
                        '  reelvec similar 603 --weights text=1,image=0.3 --json', formatter_class=EXAMPLES)
    si.add_argument("movie", help="a title (fuzzy, 'Dune (1984)' for a year) or a TMDB id")
    si.add_argument("--weights", help="query-time modality weights over fused/text/image, e.g. text=1,image=0.3")
    add_filters(si)
    si.set_defaults(func=cmd_similar)

    se = sub.add_parser("search", help="free-text search, or posters like an image",
                        epilog='examples:\n  reelvec search "a heist comedy in paris" -k 10\n'
                        "  reelvec search --image poster.jpg", formatter_class=EXAMPLES)
    se.add_argument("text", nargs="*", help="what to look for")
    se.add_argument("--image", help="a poster image to search by")
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
                        epilog='example: reelvec report --query "Alien" --out reports/alien.html')
    rp.add_argument("--query", required=True, help="a title or TMDB id")
    rp.add_argument("--out", default="reports/similar.html", help="HTML file to write (default: %(default)s)")
    add_filters(rp)
    rp.set_defaults(func=cmd_report)
