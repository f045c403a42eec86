"""UI-JEPA stage 2 (Fu et al. 2024, arXiv 2409.04081 §3): a text decoder reads the *frozen* video encoder's
tokens and writes the user intent.

* :class:`WordTokenizer` — word-level vocabulary built from the training texts (``<pad>``, ``<bos>``,
  ``<eos>``, ``<unk>`` first), on the same normalised words as the metrics (lower case, no punctuation).
* :class:`IntentDecoder` — a small trainable decoder-only transformer. The video tokens go through one dense
  layer into the decoder width and form a *prefix* (the paper's recipe: "video embeddings → dense layer → LM
  input space"). Attention is prefix-LM: the prefix tokens attend to each other, each text token to the whole
  prefix and to the text before it. Learned position embeddings are added to the *text only* (the paper found
  position ids on the video tokens hurt; the video tokens already carry the encoder's sin-cos positions).
  Cross-entropy on the text tokens only; greedy :meth:`IntentDecoder.generate`. With ``prefix_queries`` = K > 0,
  a long token sequence (e.g. every spatio-temporal token of the clip) is first resampled into K tokens by K
  learned queries that cross-attend over it (:class:`AttentivePooler`, trained with the decoder), so the prefix
  keeps *where* on the screen things happen at a fixed, short length.
* :class:`HFIntentDecoder` — the paper's setting with a local Hugging Face causal LM (the paper: Phi-3 with
  LoRA r=16, α=16, dropout 0.05 on qkv/o/gate_up/down, NF4 + bf16): same prefix and loss, LoRA via ``peft``.
  ``transformers`` and ``peft`` are optional; they are imported only when this class is built.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from representations.core.vit import AttentivePooler, init_linear_trunc_normal, transformer_blocks
from representations.ui_jepa.metrics import words

HF_INSTALL_HINT = "pip install transformers peft"


class WordTokenizer:
    """Word-level tokenizer: ``encode(text)`` → ``[BOS, w_1 … w_n, EOS]`` ids (unknown words → ``UNK``);
    ``decode(ids)`` → the words joined by spaces, stopping at ``EOS`` (so ``decode(encode(t))`` is
    ``metrics.normalize_text(t)`` when every word of ``t`` is in the vocabulary)."""

    PAD, BOS, EOS, UNK = 0, 1, 2, 3
    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")

    def __init__(self, vocabulary: Sequence[str]) -> None:
        """``vocabulary``: the ordinary words (specials are added in front); ``tokenizer.vocab`` restores it."""
        ordinary = [w for w in vocabulary if w not in self.SPECIALS]
        self.vocab: list[str] = [*self.SPECIALS, *dict.fromkeys(ordinary)]
        self.index = {word: i for i, word in enumerate(self.vocab)}

    @classmethod
    def from_texts(cls, texts: Sequence[str], *, min_count: int = 1, max_size: int | None = None) -> "WordTokenizer":
        """Vocabulary of the words seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        counts = Counter(word for text in texts for word in words(text))
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(ranked[:max_size] if max_size is not None else ranked)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, *, add_special: bool = True) -> list[int]:
        ids = [self.index.get(word, self.UNK) for word in words(text)]
        return [self.BOS, *ids, self.EOS] if add_special else ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        out = []
        for i in ids.tolist() if isinstance(ids, torch.Tensor) else ids:
            if i == self.EOS:
                break
            if i not in (self.PAD, self.BOS):
                out.append(self.vocab[i])
        return " ".join(out)

    def batch(self, texts: Sequence[str], max_len: int | None = None) -> torch.Tensor:
        """Padded ids [B, L] of ``BOS … EOS`` sequences; longer texts are cut to ``max_len`` keeping the EOS."""
        rows = [self.encode(text) for text in texts]
        if max_len is not None:
            if max_len < 2:
                raise ValueError(f"max_len={max_len} leaves no room for BOS and EOS")
            rows = [row if len(row) <= max_len else [*row[: max_len - 1], self.EOS] for row in rows]
        ids = torch.full((len(rows), max(map(len, rows))), self.PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids


def _as_prefix(video_tokens: torch.Tensor) -> torch.Tensor:
    """[B, P, D] tokens or one pooled embedding [B, D] (read as P = 1)."""
    if video_tokens.dim() == 2:
        return video_tokens.unsqueeze(1)
    if video_tokens.dim() != 3:
        raise ValueError(f"video tokens must be [B, P, D] or [B, D], got shape {tuple(video_tokens.shape)}")
    return video_tokens


class IntentDecoder(nn.Module):
    """Small prefix-LM intent decoder over frozen video tokens (see the module docstring).

    ``video_dim`` is the encoder width; ``max_text_len`` bounds ``BOS … EOS`` (longer training texts are cut).
    The video tokens are used as given: encode them under ``torch.no_grad()`` to keep the encoder frozen.
    ``prefix_queries`` > 0 resamples them into that many prefix tokens first (``heads`` heads, in ``video_dim``).
    """

    def __init__(
        self,
        tokenizer: WordTokenizer,
        video_dim: int,
        *,
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        max_text_len: int = 32,
        prefix_queries: int = 0,
    ) -> None:
        super().__init__()
        if prefix_queries < 0:
            raise ValueError(f"prefix_queries={prefix_queries} must be 0 (the tokens as given) or a number of queries")
        self.tokenizer, self.max_text_len = tokenizer, max_text_len
        self.resampler = AttentivePooler(video_dim, heads=heads, queries=prefix_queries) if prefix_queries else None
        self.video_projection = nn.Linear(video_dim, dim)  # the paper's dense layer into the LM input space
        self.token_embed = nn.Embedding(len(tokenizer), dim)
        self.text_positions = nn.Embedding(max_text_len, dim)  # on the text only
        self.blocks = transformer_blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, len(tokenizer))
        self.apply(init_linear_trunc_normal)
        nn.init.trunc_normal_(self.token_embed.weight, std=0.02)
        nn.init.trunc_normal_(self.text_positions.weight, std=0.02)

    @staticmethod
    def attention_mask(prefix_len: int, text_len: int, device: torch.device | None = None) -> torch.Tensor:
        """Boolean [P + L, P + L], True = blocked: prefix ↔ prefix open, text → prefix open, text → text causal,
        prefix → text blocked."""
        size = prefix_len + text_len
        blocked = torch.ones(size, size, dtype=torch.bool, device=device).triu(1)  # causal
        blocked[:prefix_len, :prefix_len] = False
        return blocked

    def forward(self, video_tokens: torch.Tensor, text_ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits [B, L, vocab] at each text position (position i predicts token i + 1)."""
        prefix = _as_prefix(video_tokens)
        if self.resampler is not None:
            prefix = self.resampler.pool_tokens(prefix)
        prefix = self.video_projection(prefix)
        length = text_ids.shape[1]
        if length > self.max_text_len:
            raise ValueError(f"{length} text tokens exceed max_text_len={self.max_text_len}")
        positions = torch.arange(length, device=text_ids.device)
        hidden = torch.cat([prefix, self.token_embed(text_ids) + self.text_positions(positions)], dim=1)
        mask = self.attention_mask(prefix.shape[1], length, hidden.device)
        for block in self.blocks:
            hidden = block(hidden, src_mask=mask)
        return self.head(self.norm(hidden[:, prefix.shape[1] :]))

    def loss(self, video_tokens: torch.Tensor, texts: Sequence[str] | torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the text tokens (``w_1 … w_n, EOS``) given the prefix; padding is ignored."""
        ids = texts if isinstance(texts, torch.Tensor) else self.tokenizer.batch(texts, self.max_text_len)
        ids = ids.to(self.head.weight.device)
        logits = self(video_tokens, ids[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten(), ignore_index=WordTokenizer.PAD)

    @torch.no_grad()
    def generate_ids(self, video_tokens: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
        """Greedy decoding: ids [B, ≤ max_len] starting with BOS, PAD after each row's EOS."""
        max_len = min(max_len or self.max_text_len, self.max_text_len)
        was_training = self.training
        self.eval()
        prefix = _as_prefix(video_tokens)
        ids = torch.full((prefix.shape[0], 1), WordTokenizer.BOS, dtype=torch.long, device=prefix.device)
        done = torch.zeros(prefix.shape[0], dtype=torch.bool, device=prefix.device)
        while ids.shape[1] < max_len and not done.all():
            next_ids = self(prefix, ids)[:, -1].argmax(dim=-1)
            next_ids = next_ids.masked_fill(done, WordTokenizer.PAD)
            ids = torch.cat([ids, next_ids[:, None]], dim=1)
            done |= next_ids == WordTokenizer.EOS
        self.train(was_training)
        return ids

    def generate(self, video_tokens: torch.Tensor, max_len: int | None = None) -> list[str]:
        """Greedy intent texts, one per video (normalised words)."""
        return [self.tokenizer.decode(row) for row in self.generate_ids(video_tokens, max_len)]


# ---------------------------------------------------------------- Hugging Face causal LM + LoRA (optional)

# LoRA targets tried in order of preference: Phi-3's fused names, then Llama/Mistral/Qwen-style names.
_LORA_TARGETS = (
    ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
)


def _import_hf():
    try:
        import peft
        import transformers
    except ImportError as error:
        raise ImportError(
            f"HFIntentDecoder needs the optional packages transformers and peft ({error}); install them "
            f"with `{HF_INSTALL_HINT}`, or use the built-in IntentDecoder"
        ) from error
    return transformers, peft


def default_lora_targets(model: nn.Module) -> list[str]:
    """The first family of projection names in ``_LORA_TARGETS`` that the model has, as far as present."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    for family in _LORA_TARGETS:
        found = [name for name in family if name in names]
        if found:
            return found
    raise ValueError(
        "found none of the known attention/MLP projection names "
        f"{sorted({n for f in _LORA_TARGETS for n in f})}; pass target_modules=[...]"
    )


class HFIntentDecoder(nn.Module):
    """A local Hugging Face causal LM as the intent decoder (``model_path``: a folder with its weights and
    tokenizer; nothing is downloaded — ``local_files_only``).

    Trained: the dense projection of the video tokens into the LM's input embeddings, and LoRA adapters
    (``lora_r``, ``lora_alpha``, ``lora_dropout`` on ``target_modules``, by default the attention and MLP
    projections the model has). The input is ``[projected video prefix ‖ BOS? text EOS]``; the loss covers the
    text tokens only (labels −100 on the prefix and padding). Position ids are on the text only: the prefix
    gets position 0 (no rotary offset) and the text counts 0, 1, … from its first token. ``load_in_4bit``
    quantises the frozen base to NF4 with bf16 compute (needs ``bitsandbytes`` and a GPU, as in the paper).
    """

    def __init__(
        self,
        model_path: str,
        video_dim: int,
        *,
        lora_r: int = 16,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        target_modules: Sequence[str] | None = None,
        load_in_4bit: bool = False,
        torch_dtype: torch.dtype | str | None = None,
        max_text_len: int = 64,
    ) -> None:
        super().__init__()
        transformers, peft = _import_hf()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        kwargs: dict = {"local_files_only": True}
        if torch_dtype is not None:
            kwargs["torch_dtype"] = torch_dtype
        if load_in_4bit:
            kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
            )
        lm = transformers.AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
        if load_in_4bit:
            lm = peft.prepare_model_for_kbit_training(lm)
        targets = list(target_modules) if target_modules is not None else default_lora_targets(lm)
        config = peft.LoraConfig(
            r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=targets, bias="none", task_type="CAUSAL_LM"
        )
        self.lm = peft.get_peft_model(lm, config)  # freezes the base weights
        self.video_projection = nn.Linear(video_dim, lm.config.hidden_size)
        self.max_text_len = max_text_len
        self.eos_id = self.tokenizer.eos_token_id
        self.bos_id = getattr(self.tokenizer, "bos_token_id", None)
        pad = getattr(self.tokenizer, "pad_token_id", None)
        self.pad_id = pad if pad is not None else self.eos_id

    def _text_ids(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids [B, L] of ``BOS? text EOS`` (padded with pad_id) and their validity mask [B, L]."""
        start = [self.bos_id] if self.bos_id is not None else []
        rows = []
        for text in texts:
            body = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            rows.append([*start, *body][: self.max_text_len - 1] + [self.eos_id])
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        valid = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, row in enumerate(rows):
            ids[i, : len(row)], valid[i, : len(row)] = torch.tensor(row), True
        return ids, valid

    def _inputs(self, video_tokens: torch.Tensor, ids: torch.Tensor, valid: torch.Tensor) -> dict:
        embed = self.lm.get_input_embeddings()
        text = embed(ids)
        prefix = self.video_projection(_as_prefix(video_tokens).to(self.video_projection.weight.dtype)).to(text.dtype)
        batch, prefix_len = prefix.shape[:2]
        text_positions = (valid.long().cumsum(dim=1) - 1).clamp(min=0)  # 0, 1, … on the text; padding repeats
        return {
            "inputs_embeds": torch.cat([prefix, text], dim=1),
            "attention_mask": torch.cat(
                [torch.ones(batch, prefix_len, dtype=torch.long, device=ids.device), valid.long()], dim=1
            ),
            "position_ids": torch.cat(
                [torch.zeros(batch, prefix_len, dtype=torch.long, device=ids.device), text_positions], dim=1
            ),
        }

    def loss(self, video_tokens: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """The LM's mean next-token cross-entropy over the text tokens (after BOS, EOS included)."""
        device = self.video_projection.weight.device
        ids, valid = (t.to(device) for t in self._text_ids(texts))
        inputs = self._inputs(video_tokens.to(device), ids, valid)
        labels = ids.masked_fill(~valid, -100)
        if self.bos_id is not None:
            labels[:, 0] = -100  # BOS is given, not predicted
        prefix_len = inputs["inputs_embeds"].shape[1] - ids.shape[1]
        labels = torch.cat([torch.full((ids.shape[0], prefix_len), -100, dtype=torch.long, device=device), labels], 1)
        return self.lm(**inputs, labels=labels).loss

    @torch.no_grad()
    def generate(self, video_tokens: torch.Tensor, max_len: int | None = None) -> list[str]:
        """Greedy texts (no KV cache: a full forward per token, fine for short intents)."""
        max_len = min(max_len or self.max_text_len, self.max_text_len)
        device = self.video_projection.weight.device
        batch = _as_prefix(video_tokens).shape[0]
        start = [self.bos_id] if self.bos_id is not None else []
        ids = torch.tensor([start] * batch, dtype=torch.long, device=device).reshape(batch, len(start))
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        generated = []
        while len(generated) < max_len and not done.all():
            valid = torch.ones_like(ids, dtype=torch.bool)
            logits = self.lm(**self._inputs(video_tokens.to(device), ids, valid)).logits[:, -1]
            next_ids = logits.argmax(dim=-1).masked_fill(done, self.pad_id)
            generated.append(next_ids)
            ids = torch.cat([ids, next_ids[:, None]], dim=1)
            done |= next_ids == self.eos_id
        texts = []
        for i in range(batch):
            row = [int(t[i]) for t in generated]
            row = row[: row.index(self.eos_id)] if self.eos_id in row else row
            texts.append(self.tokenizer.decode(row, skip_special_tokens=True).strip())
        return texts
