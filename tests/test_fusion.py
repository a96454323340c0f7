"""Fusion: loss vs brute force, miners on hand-made distances, overfitting, save/load, metrics."""

import numpy as np
import pytest
import torch

from reelvec.errors import FusionError
from reelvec.fusion import metrics as M
from reelvec.fusion.artifact import FusionModel
from reelvec.fusion.data import Movie_Dataset, co_liked, cold_start_split, likes_matrix, to_inputs
from reelvec.fusion.features import fit_structured, structured_matrix, tag_matrix
from reelvec.fusion.losses import pairwise_distance, triplet_loss
from reelvec.fusion.miners import batch_hard, random_negatives, semi_hard
from reelvec.fusion.model import FusionConfig, RecommenderSystem
from reelvec.fusion.train import embed, train
from reelvec.ingest.movie import Movie


def test_triplet_loss_equals_brute_force():
    torch.manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    a, p, n = torch.tensor([0, 1, 2, 3]), torch.tensor([1, 0, 3, 2]), torch.tensor([4, 5, 5, 4])
    dist = pairwise_distance(emb)
    loss, active = triplet_loss(dist, a, p, n, margin=0.3)
    brute = []
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist()):
        d_ap = float(torch.linalg.norm(emb[i] - emb[j]))
        d_an = float(torch.linalg.norm(emb[i] - emb[k]))
        brute.append(max(0.0, d_ap - d_an + 0.3))
    assert float(loss) == pytest.approx(np.mean(brute), abs=1e-5)
    assert active == pytest.approx(np.mean([b > 0 for b in brute]))
    soft, _ = triplet_loss(dist, a, p, n, margin=0.3, soft=True)
    expected = np.mean([np.log1p(np.exp(float(torch.linalg.norm(emb[i] - emb[j]) - torch.linalg.norm(emb[i] - emb[k]))))
                        for i, j, k in zip(a.tolist(), p.tolist(), n.tolist())])
    assert float(soft) == pytest.approx(expected, abs=1e-5)


def _hand_distances():
    # 0's positive is 1 (d=0.5); negatives 2 (0.3: harder than positive), 3 (0.6: semi-hard), 4 (1.5: easy)
    d = torch.tensor([
        [0.0, 0.5, 0.3, 0.6, 1.5],
        [0.5, 0.0, 0.9, 0.9, 0.9],
        [0.3, 0.9, 0.0, 0.9, 0.9],
        [0.6, 0.9, 0.9, 0.0, 0.9],
        [1.5, 0.9, 0.9, 0.9, 0.0],
    ])
    pos = torch.zeros(5, 5, dtype=torch.bool)
    pos[0, 1] = pos[1, 0] = True
    return d, pos


def test_miners_pick_what_they_claim():
    d, pos = _hand_distances()
    a, p, n = semi_hard(d, pos, margin=0.2)
    first = (a == 0).nonzero()[0, 0]
    assert int(n[first]) == 3  # inside (0.5, 0.7)
    a, p, n = batch_hard(d, pos, margin=0.2)
    assert int(n[(a == 0).nonzero()[0, 0]]) == 2 and int(p[(a == 0).nonzero()[0, 0]]) == 1
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        a, p, n = random_negatives(d, pos, 0.2, gen)
        seen.add(int(n[(a == 0).nonzero()[0, 0]]))
    assert seen == {2, 3, 4}  # uniform over negatives, never the positive or itself


def test_semi_hard_falls_back_to_closest_farther_negative():
    d, pos = _hand_distances()
    d[0, 3] = d[3, 0] = 1.2  # no negative inside the band any more
    a, p, n = semi_hard(d, pos, margin=0.2)
    assert int(n[(a == 0).nonzero()[0, 0]]) == 3  # 1.2 is the closest that is farther than 0.5


def _movies(n=16):
    g = [("Action",), ("Drama",), ("Comedy",), ("Horror",)]
    return [Movie(key=f"tmdb:{i}", tmdb_id=i, title=f"F{i}", year=1980 + i, genres=g[i % 4], keywords=(f"k{i % 3}",),
                  vote_count=10 * i, original_language="en") for i in range(n)]


def _inputs(movies, seed=0):
    rng = np.random.default_rng(seed)
    spec = fit_structured(movies, min_tag_count=1)
    n = len(movies)
    has = np.arange(n) % 2 == 0
    image = rng.normal(size=(n, 1280)).astype(np.float32)
    image[~has] = np.nan
    return spec, to_inputs(rng.normal(size=(n, 384)).astype(np.float32), image, has,
                           structured_matrix(movies, spec), tag_matrix(movies, spec))


def test_model_overfits_16_triplets():
    movies = _movies(16)
    spec, x = _inputs(movies)
    co = {i: [(i ^ 1, 1.0)] for i in range(16)}  # pairs (0,1), (2,3), ...
    ds = Movie_Dataset([m.key for m in movies], co, {}, positives="co-liked")
    cfg = FusionConfig(epochs=150, batch_size=16, lr=3e-3, dropout=0.0, modality_dropout=0.0, miner="random", margin=0.3)
    model, hist = train(x, ds, cfg, n_tags=len(spec.tags))
    z = embed(model, x)
    sims = z @ z.T
    np.fill_diagonal(sims, -1)
    assert (sims.argmax(1) == (np.arange(16) ^ 1)).all()  # every movie's nearest is its positive
    assert hist.epochs[-1]["loss"] < hist.epochs[0]["loss"]


def test_missing_image_and_weights():
    movies = _movies(8)
    spec, x = _inputs(movies)
    model = RecommenderSystem(FusionConfig(), x.struct.shape[1], len(spec.tags)).eval()
    z = embed(model, x)
    assert np.isfinite(z).all() and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    # weight 0 on image == image missing
    x2 = to_inputs(x.text.numpy(), x.image.numpy(), np.zeros(8, bool), x.struct.numpy(), x.tags.numpy())
    np.testing.assert_allclose(embed(model, x, weights={"image": 0.0}), embed(model, x2), atol=1e-6)
    with pytest.raises(ValueError, match="unknown modality"):
        embed(model, x, weights={"sound": 1.0})


def test_save_load_round_trip_bit_exact(tmp_path):
    movies = _movies(8)
    spec, x = _inputs(movies)
    model = RecommenderSystem(FusionConfig(seed=3), x.struct.shape[1], len(spec.tags)).eval()
    fm = FusionModel(model, spec, "text-v1", "image-v1")
    fm.save(tmp_path / "m")
    back = FusionModel.load(tmp_path / "m", "text-v1", "image-v1")
    for (k, v), (k2, v2) in zip(model.state_dict().items(), back.model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert np.array_equal(fm.embed(x), back.embed(x)) and back.version == fm.version
    assert back.spec == spec and back.config == fm.config
    with pytest.raises(FusionError, match="trained on encoder versions"):
        FusionModel.load(tmp_path / "m", "text-v2", "image-v1")
    with pytest.raises(FusionError, match="reelvec train"):
        FusionModel.load(tmp_path / "nothing")


def test_training_is_deterministic_under_a_seed():
    movies = _movies(16)
    spec, x = _inputs(movies)
    co = {i: [(i ^ 1, 1.0)] for i in range(16)}
    ds = Movie_Dataset([m.key for m in movies], co, {}, positives="co-liked")
    cfg = FusionConfig(epochs=3, batch_size=8, seed=7)
    a, _ = train(x, ds, cfg, n_tags=len(spec.tags))
    b, _ = train(x, ds, cfg, n_tags=len(spec.tags))
    assert np.array_equal(embed(a, x), embed(b, x))


def test_popularity_negatives():
    """Extra negatives drawn ~ (1 + times a movie is someone's positive) ** alpha train like the
    plain ones, deterministically, and never use a movie as a negative for an anchor it is a
    positive of."""
    from reelvec.fusion.train import positive_frequency

    keys = [f"k{i}" for i in range(6)]
    co = {0: [(1, 1.0), (2, 1.0)], 3: [(1, 1.0)], 4: [(1, 1.0)]}
    ds = Movie_Dataset(keys, co, {}, positives="co-liked")
    p = positive_frequency(ds, 6, alpha=1.0)
    assert p == pytest.approx(np.array([1, 4, 2, 1, 1, 1]) / 10)
    assert positive_frequency(ds, 6, alpha=0.0) == pytest.approx(np.full(6, 1 / 6))
    movies = _movies(16)
    spec, x = _inputs(movies)
    co = {i: [(i ^ 1, 1.0)] for i in range(16)}
    ds = Movie_Dataset([m.key for m in movies], co, {}, positives="co-liked")
    cfg = FusionConfig(epochs=3, batch_size=8, seed=7, pop_negatives=8)
    a, hist = train(x, ds, cfg, n_tags=len(spec.tags))
    b, _ = train(x, ds, cfg, n_tags=len(spec.tags))
    assert np.array_equal(embed(a, x), embed(b, x)) and not hist.collapsed
    plain, _ = train(x, ds, FusionConfig(epochs=3, batch_size=8, seed=7), n_tags=len(spec.tags))
    assert not np.array_equal(embed(a, x), embed(plain, x))  # the extra negatives are used


def test_batch_hard_collapse_is_detected():
    movies = _movies(16)
    spec, x = _inputs(movies)
    co = {i: [((i + 1) % 16, 1.0), ((i + 5) % 16, 1.0)] for i in range(16)}
    ds = Movie_Dataset([m.key for m in movies], co, {}, positives="co-liked")
    cfg = FusionConfig(epochs=30, batch_size=16, lr=0.05, miner="batch-hard", margin=1.0)
    model, hist = train(x, ds, cfg, n_tags=len(spec.tags))
    assert all(e["mean_cos"] <= 0.9 for e in hist.epochs[:-1])
    if hist.collapsed:
        assert hist.epochs[-1]["mean_cos"] > 0.9 and hist.best_epoch < len(hist.epochs)


def test_dataset_repr_split_and_positive_sampling():
    keys = [f"k{i}" for i in range(10)]
    co = {i: [((i + 1) % 10, 0.5)] for i in range(6)}
    content = {i: [((i + 2) % 10, 0.3)] for i in range(10)}
    ds = Movie_Dataset(keys, co, content, positives="mixed", content_weight=0.0)
    assert len(ds) == 10 and "Movie_Dataset(anchors=10" in repr(ds)
    tr, te = ds.train_test_split(train_ratio=0.8, seed=1)
    assert len(tr) == 8 and len(te) == 2 and not set(tr.rows) & set(te.rows)
    assert ds.train_test_split(0.8, seed=1)[0].rows.tolist() == tr.rows.tolist()
    rng = np.random.default_rng(0)
    assert ds.sample_positive(0, rng) == 1  # co-liked when it has one and content weight is 0
    assert ds.sample_positive(8, rng) == 0  # content only
    only_co = Movie_Dataset(keys, co, content, positives="co-liked")
    assert len(only_co) == 6


def test_co_liked_is_normalised_not_raw_counts():
    import pandas as pd
    # movie 0 is liked by everyone; 1 and 2 are liked by the same small group
    rows = [(u, 0) for u in range(20)] + [(u, 1) for u in range(3)] + [(u, 2) for u in range(3)] + [(u, 3) for u in range(10)]
    ratings = pd.DataFrame({"userId": [u for u, _ in rows], "tmdb_id": [m for _, m in rows], "rating": 5.0})
    L = likes_matrix(ratings, {i: i for i in range(4)}, 4)
    nb = co_liked(L, min_common=3)
    assert nb[1][0][0] == 2  # 1's best neighbour is 2 (Jaccard 1.0), not the popular 0 (3/20)
    split = cold_start_split(np.arange(10), 0.2, seed=0)
    assert len(split.test_rows) == 2 and not set(split.test_rows) & set(split.train_rows)


def test_metrics_on_hand_worked_example():
    ranked = ["a", "b", "c", "d", "e"]
    rel = {"a", "c", "f"}
    assert M.precision_at_k(ranked, rel, 5) == pytest.approx(2 / 5)
    assert M.recall_at_k(ranked, rel, 5) == pytest.approx(2 / 3)
    assert M.average_precision(ranked, rel, 5) == pytest.approx((1 / 1 + 2 / 3) / 3)
    dcg = 1 / np.log2(2) + 1 / np.log2(4)
    idcg = 1 / np.log2(2) + 1 / np.log2(3) + 1 / np.log2(4)
    assert M.ndcg_at_k(ranked, rel, 5) == pytest.approx(dcg / idcg)
    assert M.ndcg_at_k(["a", "c", "f"], rel, 3) == pytest.approx(1.0)
    assert M.genre_accuracy({"Action"}, [{"Action", "Drama"}, {"Comedy"}]) == 0.5
    assert M.intra_list_diversity([{"A"}, {"A"}]) == 0.0 and M.intra_list_diversity([{"A"}, {"B"}]) == 1.0
    mean, lo, hi = M.bootstrap_ci([0.0, 1.0] * 50)
    assert mean == 0.5 and lo < 0.5 < hi
    d, dlo, dhi = M.paired_bootstrap_diff([1.0] * 30, [0.0] * 30)
    assert d == dlo == dhi == 1.0


def test_sequence_runtime_equals_the_torch_model(tmp_path):
    """The numpy GRU (`for_history` without torch) gives the torch model's vectors; a damaged or
    transformer checkpoint is refused with a message."""
    from reelvec.fusion.sequence import NextItemModel, SequenceConfig, SequenceModel
    from reelvec.fusion.sequence_runtime import SequenceRuntime

    torch.manual_seed(0)
    model = NextItemModel(8, SequenceConfig(hidden=16, max_len=5)).eval()
    SequenceModel(model, "fusion-x").save(tmp_path / "seq")
    rt = SequenceRuntime.load(tmp_path / "seq", "fusion-x")
    rng = np.random.default_rng(0)
    for n in (1, 3, 5, 9):  # 9 > max_len: the last 5 count
        v = rng.normal(size=(n, 8)).astype(np.float32)
        r = list(rng.uniform(0.5, 5, size=n))
        want = SequenceModel(model, "fusion-x").predict_vectors(v, r)
        assert np.allclose(rt.predict_vectors(v, r), want, atol=1e-5)
    with pytest.raises(FusionError, match="trained on fusion-x"):
        SequenceRuntime.load(tmp_path / "seq", "fusion-y")
    SequenceModel(NextItemModel(8, SequenceConfig(kind="transformer", hidden=16, max_len=5)), "f").save(tmp_path / "tr")
    with pytest.raises(FusionError, match="GRUs only"):
        SequenceRuntime.load(tmp_path / "tr")
    (tmp_path / "seq" / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(FusionError, match="damaged|unreadable"):
        SequenceRuntime.load(tmp_path / "seq")
    with pytest.raises(FusionError, match="no sequence model"):
        SequenceRuntime.load(tmp_path / "nothing")
