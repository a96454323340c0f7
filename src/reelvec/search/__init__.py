"""Search: the recommendation API people call (`reelvec.open(...).similar(...)`)."""
from reelvec.search.engine import Engine, Explanation, Hit, Recommendation_Search, get_recommendations, open_engine

__all__ = ["Engine", "Explanation", "Hit", "Recommendation_Search", "get_recommendations", "open_engine"]
