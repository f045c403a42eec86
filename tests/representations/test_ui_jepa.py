"""UI-JEPA (issue #9, part 2): temporal masks, the video JEPA loss, the intent decoders, the metrics and the
frame-averaged baseline, on tiny sizes (32 px, 8 frames, width 16, depth 1)."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torch import nn
from torchrl.objectives import SoftUpdate

from representations.core.masks import apply_masks, temporal_masks
from representations.core.targets import linear_momentum
from representations.ui_jepa import (
    EMA_START,
    UIJEPA,
    FrameAveragedEncoder,
    HFIntentDecoder,
    IntentDecoder,
    TemporalMasks,
    UIJEPALoss,
    WordTokenizer,
    corpus_scores,
    intent_accuracy,
    intent_similarity,
    nearest_intent,
    normalize_text,
    rouge_l,
    rouge_n,
    rouge_scores,
    ui_jepa_mask_generators,
)
from representations.ui_jepa.metrics import lcs_length
from representations.vjepa import MultiblockMasks

TINY = dict(dim=16, depth=1, heads=2, predictor_dim=8, predictor_depth=1, predictor_heads=2)
pytestmark = [pytest.mark.filterwarnings("ignore:No target network updater"), pytest.mark.usefixtures("one_thread")]


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def videos(batch: int = 2, frames: int = 8, size: int = 32, seed: int = 0) -> torch.Tensor:  # [B, T, 3, S, S]
    return torch.randint(0, 256, (batch, frames, 3, size, size), dtype=torch.uint8, generator=seeded(seed))


# ---------------------------------------------------------------- temporal masks


@pytest.mark.parametrize(
    "kwargs, masked", [(dict(num_masked=3), 3), (dict(ratio=0.5), 2), (dict(ratio=1.0), 3), (dict(ratio=0.01), 1)]
)
def test_temporal_masks_hide_whole_time_steps(kwargs, masked):
    grid = (4, 3, 5)  # T' = 4 hyper-frames of 3 × 5 tokens
    per_step = 15
    context, target = temporal_masks(6, grid, generator=seeded(1), **kwargs)
    assert context.dtype == target.dtype == torch.long
    assert target.shape == (6, masked * per_step) and context.shape == (6, (4 - masked) * per_step)
    steps_seen = set()
    for c, t in zip(context, target):
        assert (t.diff() > 0).all() and (c.diff() > 0).all()
        assert sorted(torch.cat([c, t]).tolist()) == list(range(60))  # disjoint and covering
        steps = (t // per_step).unique()
        assert len(steps) == masked
        for s in steps:  # every masked time step is masked at all of its spatial positions
            assert set(t[t // per_step == s].tolist()) == set(range(s * per_step, (s + 1) * per_step))
        steps_seen.add(tuple(steps.tolist()))
    if masked < 3:
        assert len(steps_seen) > 1  # drawn per sample


def test_temporal_masks_are_deterministic_by_generator_and_validate():
    a = temporal_masks(4, (8, 2, 2), generator=seeded(7), ratio=(0.25, 0.75))
    b = temporal_masks(4, (8, 2, 2), generator=seeded(7), ratio=(0.25, 0.75))
    c = temporal_masks(4, (8, 2, 2), generator=seeded(8), ratio=(0.25, 0.75))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    with pytest.raises(ValueError, match="exactly one"):
        temporal_masks(2, (4, 2, 2), generator=seeded(), num_masked=1, ratio=0.5)
    with pytest.raises(ValueError, match="num_masked"):
        temporal_masks(2, (4, 2, 2), generator=seeded(), num_masked=4)
    with pytest.raises(ValueError, match="at least 2 time steps"):
        temporal_masks(2, (1, 2, 2), generator=seeded(), num_masked=1)
    # the generator dataclass: default ratio 0.75 → 6 of the 8 hyper-frames of a 16-frame clip
    context, target = TemporalMasks((8, 8, 8))(3, seeded())
    assert target.shape == (3, 6 * 64) and context.shape == (3, 2 * 64)


# ---------------------------------------------------------------- UI-JEPA model and loss


def test_ui_jepa_uses_short_long_and_temporal_masks():
    model = UIJEPA(32, 8, frames=8, **TINY)
    assert model.grid == (4, 4, 4) and len(model.predictor.mask_tokens) == 3
    generators = ui_jepa_mask_generators(model.grid)
    assert [type(g) for g in generators] == [MultiblockMasks, MultiblockMasks, TemporalMasks]
    assert [g.num_blocks for g in generators[:2]] == [8, 2] and [g.spatial_scale for g in generators[:2]] == [0.15, 0.7]
    x = videos()
    assert model.encode_video(x).shape == (2, 64, 16)
    assert model.encode_video(x, pool=True).shape == (2, 16)
    assert model.hyperframe_embeddings(x).shape == (2, 4, 16)
    torch.testing.assert_close(model.encode_video(x), model.encode(x.transpose(1, 2), pool=False))
    with pytest.raises(ValueError, match="expected a video"):
        model.encode_video(x.transpose(1, 2)[:, :, :2])


def test_ui_jepa_loss_is_vjepa_l1_over_three_generators():
    torch.manual_seed(0)
    model = UIJEPA(32, 8, frames=8, **TINY)
    loss = UIJEPALoss(model, seed=3)
    x = videos()
    out = loss(TensorDict({"video": x}, [2]))
    assert set(out.keys()) == {
        "loss_prediction",
        "target_std",
        "context_fraction",
        "feature_std",
        "feature_rankme",
        "target_rankme",
    }
    assert torch.isfinite(out["loss_prediction"]) and 0 < out["context_fraction"] < 1
    # by hand: same seed → same masks; the target copy equals the online encoder before any update
    clip = x.transpose(1, 2)
    targets = F.layer_norm(model.encoder(clip), (16,))
    generator = seeded(3)
    masks = [make(2, generator) for make in ui_jepa_mask_generators(model.grid)]
    errors = [(model.predict(clip, c, t, mask_index=i) - apply_masks(targets, t)).abs().mean() for i, (c, t) in enumerate(masks)]
    assert out["loss_prediction"].item() == pytest.approx(torch.stack(errors).mean().item(), rel=1e-5)


def test_ui_jepa_grads_and_ema_target():
    torch.manual_seed(0)
    model = UIJEPA(32, 8, frames=8, **TINY)
    loss = UIJEPALoss(model, seed=0)
    updater = SoftUpdate(loss, eps=EMA_START)
    optimiser = torch.optim.Adam([p for p in loss.parameters() if p.requires_grad], lr=1e-2)
    target_before = loss.target_encoder.patch_embed.proj.weight.detach().clone()
    loss(TensorDict({"video": videos()}, [2]))["loss_prediction"].backward()
    assert all(p.grad is None for p in loss.target_encoder.parameters())
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert (model.predictor.mask_tokens.grad.abs().sum(dim=1) > 0).all()  # all three mask tokens used
    optimiser.step()
    online = model.encoder.patch_embed.proj.weight.detach()
    torch.testing.assert_close(loss.target_encoder.patch_embed.proj.weight, target_before)
    updater.eps = linear_momentum(0, 100, EMA_START)
    updater.step()
    torch.testing.assert_close(loss.target_encoder.patch_embed.proj.weight, 0.998 * target_before + 0.002 * online)
    assert linear_momentum(100, 100, EMA_START) == 1.0


def test_ui_jepa_loss_decreases_on_tiny_videos():
    torch.manual_seed(0)
    # a moving bright square on a dark background: 4 videos of 8 frames, 32 px
    frames = torch.zeros(4, 8, 3, 32, 32, dtype=torch.uint8)
    for b in range(4):
        for t in range(8):
            row, col = (4 * b + 3 * t) % 24, (2 * b + 2 * t) % 24
            frames[b, t, :, row : row + 8, col : col + 8] = 255
    model = UIJEPA(32, 8, frames=8, **TINY)
    loss = UIJEPALoss(model, seed=0)
    updater = SoftUpdate(loss, eps=EMA_START)
    optimiser = torch.optim.AdamW([p for p in loss.parameters() if p.requires_grad], lr=3e-3)
    data = TensorDict({"video": frames}, [4])
    values = []
    for step in range(30):
        value = loss(data)["loss_prediction"]
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
        updater.eps = linear_momentum(step, 30, EMA_START)
        updater.step()
        values.append(value.item())
    assert sum(values[-5:]) / 5 < 0.8 * sum(values[:5]) / 5


# ---------------------------------------------------------------- frame-averaged baseline


@pytest.mark.parametrize("tubelet", [1, 2])
def test_frame_averaged_encoder_averages_independent_steps(tubelet):
    torch.manual_seed(0)
    encoder = FrameAveragedEncoder.build(32, 8, tubelet=tubelet, dim=16, depth=1, heads=2)
    x = videos(frames=8)
    steps = encoder.step_tokens(x)
    assert steps.shape == (2, 8 // tubelet, 16, 16)
    assert encoder.encode_video(x).shape == (2, 16, 16) and encoder.encode_video(x, pool=True).shape == (2, 16)
    torch.testing.assert_close(encoder.encode_video(x), steps.mean(1))
    # each step is encoded on its own: step 0 equals encoding its frames alone
    first = x[:, 0] if tubelet == 1 else x[:, :2].transpose(1, 2)
    torch.testing.assert_close(steps[:, 0], encoder.encoder(first))
    # no temporal modelling: shuffling the steps changes nothing
    order = torch.randperm(8 // tubelet)
    shuffled = x.reshape(2, 8 // tubelet, tubelet, 3, 32, 32)[:, order].reshape_as(x)
    torch.testing.assert_close(encoder.encode_video(shuffled), encoder.encode_video(x))


# ---------------------------------------------------------------- tokenizer and small decoder

TEXTS = ["Open the settings app.", "Turn on Wi-Fi in settings", "Send a message to Anna", "open the camera"]


def test_tokenizer_round_trip_and_unknown_words():
    tokenizer = WordTokenizer.from_texts(TEXTS)
    assert tokenizer.vocab[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert tokenizer.vocab[4:7] == ["open", "settings", "the"]  # most frequent first, ties alphabetical
    for text in TEXTS:
        ids = tokenizer.encode(text)
        assert ids[0] == WordTokenizer.BOS and ids[-1] == WordTokenizer.EOS and WordTokenizer.UNK not in ids
        assert tokenizer.decode(ids) == normalize_text(text)
    assert tokenizer.decode(tokenizer.encode("turn on the bluetooth")) == "turn on the <unk>"
    open_, the = tokenizer.index["open"], tokenizer.index["the"]
    assert tokenizer.decode([WordTokenizer.BOS, open_, WordTokenizer.EOS, the]) == "open"  # stops at EOS
    batch = tokenizer.batch(TEXTS, max_len=5)
    assert batch.shape == (4, 5) and (batch[:, -1] == WordTokenizer.EOS).all()  # three cut to 5 (EOS kept), one fits
    assert tokenizer.decode(batch[0]) == "open the settings"
    assert WordTokenizer(tokenizer.vocab).vocab == tokenizer.vocab  # rebuilt from a saved vocabulary


def test_decoder_prefix_lm_mask_and_loss_on_text_only():
    mask = IntentDecoder.attention_mask(2, 3)
    expected = torch.tensor([[0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]])
    assert torch.equal(mask, expected.bool())
    torch.manual_seed(0)
    tokenizer = WordTokenizer.from_texts(TEXTS)
    decoder = IntentDecoder(tokenizer, 12, dim=16, depth=1, heads=2)
    prefix = torch.randn(2, 3, 12)
    ids = tokenizer.batch(TEXTS[:2])
    logits = decoder(prefix, ids[:, :-1])
    assert logits.shape == (2, ids.shape[1] - 1, len(tokenizer))
    expected_loss = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten(), ignore_index=0)
    torch.testing.assert_close(decoder.loss(prefix, TEXTS[:2]), expected_loss)
    # causal: a later text token does not change earlier logits
    changed = ids[:, :-1].clone()
    changed[:, -1] = tokenizer.index["anna"]
    torch.testing.assert_close(decoder(prefix, changed)[:, :-1], logits[:, :-1])
    assert decoder(prefix[:, 0], ids[:, :-1]).shape == logits.shape  # a pooled [B, D] embedding is a 1-token prefix


def test_decoder_learns_to_write_each_intent():
    torch.manual_seed(0)
    tokenizer = WordTokenizer.from_texts(TEXTS)
    embeddings = torch.randn(4, 2, 12)  # four fixed "video token" prefixes
    decoder = IntentDecoder(tokenizer, 12, dim=32, depth=1, heads=2, max_text_len=12)
    optimiser = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    for _ in range(200):
        optimiser.zero_grad()
        decoder.loss(embeddings, TEXTS).backward()
        optimiser.step()
    assert decoder.generate(embeddings) == [normalize_text(t) for t in TEXTS]
    ids = decoder.generate_ids(embeddings, max_len=3)
    assert ids.shape == (4, 3) and (ids[:, 0] == WordTokenizer.BOS).all()


def test_a_resampled_prefix_reads_where_a_token_is_which_its_mean_cannot():
    """Two "clips" with the same tokens in swapped places: equal means, so a decoder on the mean writes one text
    for both; a decoder whose learned queries attend over the tokens tells them apart."""
    torch.manual_seed(0)
    texts = ["open the mail", "close the mail"]
    tokenizer = WordTokenizer.from_texts(texts)
    content, places = torch.randn(2, 12), torch.randn(2, 12)  # two contents, two position codes
    tokens = torch.stack([content + places, content.flip(0) + places])  # [2 clips, 2 tokens, 12]
    assert torch.allclose(tokens[0].mean(0), tokens[1].mean(0))

    def fit(decoder: IntentDecoder, prefix: torch.Tensor) -> list[str]:
        optimiser = torch.optim.Adam(decoder.parameters(), lr=3e-3)
        for _ in range(150):
            optimiser.zero_grad()
            decoder.loss(prefix, texts).backward()
            optimiser.step()
        return decoder.generate(prefix)

    mean_decoder = IntentDecoder(tokenizer, 12, dim=32, depth=1, heads=2, max_text_len=8)
    written = fit(mean_decoder, tokens.mean(1))
    assert written[0] == written[1]
    resampled = IntentDecoder(tokenizer, 12, dim=32, depth=1, heads=2, max_text_len=8, prefix_queries=2)
    assert resampled.resampler.query.shape == (1, 2, 12)
    assert fit(resampled, tokens) == texts
    # any number of tokens gives a prefix of prefix_queries tokens: the logits' shape does not depend on it
    ids = tokenizer.batch(texts)[:, :-1]
    assert resampled(torch.randn(2, 40, 12), ids).shape == resampled(tokens, ids).shape
    with pytest.raises(ValueError, match="prefix_queries=-1 must be 0"):
        IntentDecoder(tokenizer, 12, prefix_queries=-1)


# ---------------------------------------------------------------- Hugging Face adapter


def test_hf_decoder_raises_a_clear_error_without_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails, whether or not it is installed
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ImportError, match="pip install transformers peft"):
        HFIntentDecoder("/nonexistent/model", 16)


class _FakeTokenizer:
    """Stand-in Hugging Face tokenizer over a two-word vocabulary."""

    eos_token_id, bos_token_id, pad_token_id = 2, 1, 0
    words = {"open": 4, "settings": 5}

    def __call__(self, text: str, add_special_tokens: bool) -> dict:
        assert not add_special_tokens
        return {"input_ids": [self.words[w] for w in text.split()]}

    def decode(self, ids, skip_special_tokens: bool) -> str:
        return " ".join(f"w{i}" for i in ids)


class _FakeLM(nn.Module):
    """Stand-in causal LM with the Hugging Face call signature; records its inputs."""

    def __init__(self, vocab: int = 10, hidden: int = 8) -> None:
        super().__init__()
        self.config = SimpleNamespace(hidden_size=hidden)
        self.embed = nn.Embedding(vocab, hidden)
        self.self_attn = nn.Module()
        self.self_attn.qkv_proj, self.self_attn.o_proj = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.lm_head = nn.Linear(hidden, vocab)
        self.calls: list[dict] = []

    def get_input_embeddings(self) -> nn.Module:
        return self.embed

    def forward(self, inputs_embeds, attention_mask, position_ids, labels=None):
        self.calls.append(
            dict(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids, labels=labels)
        )
        logits = self.lm_head(self.self_attn.o_proj(self.self_attn.qkv_proj(inputs_embeds)).cumsum(1))
        loss = None
        if labels is not None:  # Hugging Face shifts the labels inside
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
        return SimpleNamespace(loss=loss, logits=logits)


def test_hf_decoder_wiring_with_stand_in_modules(monkeypatch):
    torch.manual_seed(0)
    fake_tokenizer = _FakeTokenizer()
    lm, seen = _FakeLM(), {}
    transformers = types.ModuleType("transformers")
    transformers.AutoTokenizer = SimpleNamespace(from_pretrained=lambda path, **kw: fake_tokenizer)
    transformers.AutoModelForCausalLM = SimpleNamespace(from_pretrained=lambda path, **kw: seen.update(kw) or lm)
    peft = types.ModuleType("peft")
    peft.LoraConfig = lambda **kw: kw
    peft.get_peft_model = lambda model, config: seen.update(lora=config) or model
    monkeypatch.setitem(sys.modules, "transformers", transformers)
    monkeypatch.setitem(sys.modules, "peft", peft)

    decoder = HFIntentDecoder("/local/model", 6)
    assert seen["local_files_only"] is True
    assert seen["lora"]["target_modules"] == ["qkv_proj", "o_proj"] and seen["lora"]["r"] == 16
    assert seen["lora"]["lora_alpha"] == 16 and seen["lora"]["lora_dropout"] == 0.05
    video = torch.randn(2, 3, 6)
    loss = decoder.loss(video, ["open settings", "open"])
    assert torch.isfinite(loss)
    call = lm.calls[-1]
    assert call["inputs_embeds"].shape == (2, 3 + 4, 8)  # prefix 3 + BOS open settings EOS
    assert torch.equal(call["position_ids"], torch.tensor([[0, 0, 0, 0, 1, 2, 3], [0, 0, 0, 0, 1, 2, 2]]))
    ignored = [-100] * 4  # the 3 prefix tokens and BOS
    assert torch.equal(call["labels"], torch.tensor([ignored + [4, 5, 2], ignored + [4, 2, -100]]))
    assert torch.equal(call["attention_mask"], torch.tensor([[1] * 7, [1] * 6 + [0]]))
    loss.backward()
    assert decoder.video_projection.weight.grad.abs().sum() > 0
    texts = decoder.generate(video, max_len=3)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert torch.equal(lm.calls[-1]["position_ids"][:, :3], torch.zeros(2, 3, dtype=torch.long))


# ---------------------------------------------------------------- metrics


def test_rouge_hand_values():
    assert normalize_text("  Open the Settings-app, NOW! ") == "open the settings app now"
    cand, ref = "the cat sat on the mat", "the cat is on the mat"
    # unigrams: overlap the×2, cat, on, mat = 5 of 6 each → F1 5/6
    assert rouge_n(cand, ref, 1) == pytest.approx(5 / 6)
    # bigrams: cand {the cat, cat sat, sat on, on the, the mat}, ref {the cat, cat is, is on, on the, the mat} → 3/5
    assert rouge_n(cand, ref, 2) == pytest.approx(3 / 5)
    # LCS "the cat on the mat" = 5 → P = R = 5/6
    assert lcs_length(cand.split(), ref.split()) == 5
    assert rouge_l(cand, ref) == pytest.approx(5 / 6)
    assert intent_similarity(cand, ref) == pytest.approx((5 / 6 + 3 / 5 + 5 / 6) / 3)
    # unequal lengths: cand "open settings" vs ref "open the settings app": R1 P = 1, R = 1/2 → 2/3;
    # R2: no shared bigram → 0; LCS = 2 → 2/3
    scores = rouge_scores("Open settings!", "open the settings app")
    assert scores == pytest.approx({"rouge1": 2 / 3, "rouge2": 0.0, "rougeL": 2 / 3, "intent_similarity": 4 / 9})
    # clipped counts: "the the the" vs "the cat": overlap 1, P = 1/3, R = 1/2 → 0.4
    assert rouge_n("the the the", "the cat", 1) == pytest.approx(0.4)
    assert rouge_n("", "the cat", 1) == 0.0 and rouge_n("open", "open", 2) == 0.0
    # several variants: the best one (by intent similarity) is used
    assert rouge_scores("open settings", ["close the door", "open settings"])["intent_similarity"] == pytest.approx(1.0)
    means = corpus_scores(["open settings", "the cat sat on the mat"], ["open settings", "the cat is on the mat"])
    assert means["rouge1"] == pytest.approx((1 + 5 / 6) / 2) and means["rouge2"] == pytest.approx((1 + 3 / 5) / 2)


def test_intent_accuracy_exact_and_nearest():
    intents = {"wifi": ["turn on wifi", "enable wi fi"], "msg": "send a message to anna", "cam": "open the camera"}
    predictions = ["Enable Wi-Fi.", "send message anna", "open camera now", "open the camera"]
    labels = ["wifi", "msg", "msg", "cam"]
    assert nearest_intent("send message anna", intents) == "msg"
    assert nearest_intent("open camera now", intents) == "cam"
    # exact: #1 (normalised variant) and #4 → 2/4; nearest: #1, #2, #4 right, #3 (→ cam) wrong → 3/4
    assert intent_accuracy(predictions, labels, intents) == {"exact": 0.5, "nearest": 0.75}
    assert nearest_intent("zzz", intents) == "wifi"  # all zero: the first listed
