"""Fine-tuning the first transformer layers of MiniLM for crypto-aware sentiment, on the CPU.

The network is all-MiniLM-L6-v2 cut to its first `layers` layers (token embeddings included,
all weights trained), mean-pooled and L2-normalized exactly as `encoder.SentenceEncoder` pools
at run time, with one linear head of three logits (negative, neutral, positive). It learns two
tasks at once:

- **3-class sentiment** from general tweets with people's labels (TweetEval's train split),
  cross-entropy with class weights inverse to their frequency;
- **crypto polarity** from crypto posts whose authors tagged them bullish or bearish
  (`crypto_data.TaggedPosts`): a binary cross-entropy on `logit_positive - logit_negative`
  only. A self-tag says which way a post leans, not whether it has a stance, so it moves the
  positive/negative split and leaves the neutral logit alone.

A random third of the texts are also seen as some sources deliver them (lower-cased,
punctuation, emoji and links stripped), so that the model does not lean on what they drop.

Training is seeded, logs a line every 200 steps, and writes a checkpoint after every epoch into
its work folder, from which an interrupted run resumes. The classifier the model uses is
fitted afterwards over the exported encoder (`service.finetune_and_register`); the head
trained here only shapes the encoder.
torch and transformers are imported here only; inference needs onnxruntime (`encoder.py`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ecoin_assets.cleaning import clean_text, strip_text
from ecoin_assets.sentiment.encoder import source_model_dir, tokenizer_file, write_int8_graph

POOL_SCALE = 20.0  # normalized embeddings are scaled before the head, so logits can be large
TRAIN_TOKENS = 64  # training truncates here (tweets are 20-60 tokens); inference at MAX_TOKENS


@dataclass(frozen=True)
class FinetuneConfig:
    layers: int = 1
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-4
    polarity_weight: float = 0.5
    seed: int = 13
    threads: int = 2


@dataclass(frozen=True)
class Example:
    text: str  # clean text
    target: int  # 0-2 for a 3-class label; 0 bearish / 1 bullish for a polarity tag
    polarity: bool  # True: a weak polarity tag, not a 3-class label


def examples(
    sentiment_texts: Sequence[str],
    sentiment_labels: Sequence[int],
    polarity_texts: Sequence[str],
    polarity_tags: Sequence[int],
    stripped_share: float = 1 / 3,
    seed: int = 13,
) -> list[Example]:
    """Each raw post cleaned, and a random share of them also as a stripped source would
    deliver them."""
    rng = random.Random(seed)
    out = []
    for texts, targets, polarity in (
        (sentiment_texts, sentiment_labels, False),
        (polarity_texts, polarity_tags, True),
    ):
        for raw, target in zip(texts, targets, strict=True):
            clean = clean_text(raw)
            out.append(Example(clean, int(target), polarity))
            if rng.random() < stripped_share:
                stripped = clean_text(strip_text(raw))
                if stripped and stripped != clean:
                    out.append(Example(stripped, int(target), polarity))
    return out


def _network(layers: int):
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    class SentimentNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(source_model_dir()), num_hidden_layers=layers)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 3)

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            return self.head(pooled * POOL_SCALE)

    return SentimentNet()


def _batches(items: list[Example], size: int, rng: random.Random, tokenize) -> list[list[int]]:
    """Indexes of batches of similar length (less padding), in random order."""
    order = list(range(len(items)))
    rng.shuffle(order)
    lengths = [len(ids) for ids in tokenize([items[i].text for i in order])]
    batches = []
    chunk = size * 64
    for start in range(0, len(order), chunk):
        part = sorted(range(start, min(start + chunk, len(order))), key=lambda k: lengths[k])
        batches += [[order[k] for k in part[i : i + size]] for i in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches


class Tokens:
    def __init__(self, max_tokens: int = TRAIN_TOKENS) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file()))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]


def _pad(rows: list[list[int]]):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def finetune(
    train: list[Example],
    work: Path,
    config: FinetuneConfig,
    log: Callable[[str], None] = print,
):
    """Train (or resume) in `work`; returns the network after the last epoch and the
    per-epoch history (also kept in `work/history.json`)."""
    import torch

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    work.mkdir(parents=True, exist_ok=True)
    net = _network(config.layers)
    tokenize = Tokens()
    counts = np.bincount([e.target for e in train if not e.polarity], minlength=3)
    class_weight = torch.tensor(counts.sum() / (3 * np.maximum(counts, 1)), dtype=torch.float32)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=0.01)
    rng = random.Random(config.seed)
    plans = [_batches(train, config.batch_size, rng, tokenize) for _ in range(config.epochs)]
    total = sum(len(p) for p in plans)
    warmup = max(1, total // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total - step) / (total - warmup))),
    )
    history: list[dict] = []
    start_epoch = 0
    checkpoint = work / "checkpoint.pt"
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != asdict(config):
            raise ValueError(f"{checkpoint} was written with another configuration")
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start_epoch, history = state["epoch"], state["history"]
        log(f"resuming after epoch {start_epoch} from {checkpoint}")
    started = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        net.train()
        seen, loss_sum = 0, 0.0
        for step, batch in enumerate(plans[epoch], start=1):
            items = [train[i] for i in batch]
            ids, mask = _pad(tokenize([e.text for e in items]))
            logits = net(ids, mask)
            targets = torch.tensor([e.target for e in items])
            weak = torch.tensor([e.polarity for e in items])
            loss = torch.zeros(())
            if (~weak).any():
                strong_loss = torch.nn.functional.cross_entropy(
                    logits[~weak], targets[~weak], weight=class_weight, reduction="sum"
                )
                loss = loss + strong_loss / class_weight[targets[~weak]].sum() * (~weak).sum()
            if weak.any():
                lean = logits[weak, 2] - logits[weak, 0]
                loss = (
                    loss
                    + config.polarity_weight
                    * torch.nn.functional.binary_cross_entropy_with_logits(
                        lean, targets[weak].float(), reduction="sum"
                    )
                )
            loss = loss / len(items)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            seen += len(items)
            loss_sum += float(loss.detach()) * len(items)
            if step % 200 == 0 or step == len(plans[epoch]):
                rate = seen / (time.perf_counter() - started)
                log(
                    f"epoch {epoch + 1}/{config.epochs} step {step}/{len(plans[epoch])} "
                    f"loss {loss_sum / seen:.4f} ({rate:.0f} examples/s)"
                )
        started = time.perf_counter()
        figures = {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1)}
        history.append(figures)
        log(json.dumps(figures))
        tmp = checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "net": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "epoch": epoch + 1,
                "history": history,
                "config": asdict(config),
            },
            tmp,
        )
        tmp.replace(checkpoint)
        (work / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return net, history


def export_encoder(net, target: Path) -> None:
    """Write the fine-tuned transformer as an int8 ONNX graph with the signature of
    `encoder.SentenceEncoder`'s graphs (its head stays behind: the model's classifier is
    fitted over the exported embedding, `service.finetune_and_register`)."""
    write_int8_graph(net.bert, target)
