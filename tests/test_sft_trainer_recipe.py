"""TRL's SFTTrainer on a dataset packed by ``hf_utils.pack_dataset`` trains
exactly as unpacked training does (training_reference.py): with
``padding_free=True`` its collator rebuilds each row's sequences from
``seq_lengths``. Needs torch, transformers, datasets and trl.
"""

import numpy as np

from optional import optional_import

torch = optional_import("torch")
transformers = optional_import("transformers")
datasets = optional_import("datasets")
trl = optional_import("trl")

from seqpacker.hf_utils import pack_dataset  # noqa: E402
from seqpacker.torch_utils import validate_batch  # noqa: E402
from training_reference import (VOCAB, Recorder, assert_same_parameters,  # noqa: E402
                                tiny_llama, unpacked_sgd)

LR = 0.5


def word_tokenizer():
    """A tokenizer built here (nothing downloaded): SFTTrainer takes its pad token."""
    import tokenizers

    vocab = {f"t{i}": i for i in range(VOCAB)}
    model = tokenizers.models.WordLevel(vocab, unk_token="t1")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizers.Tokenizer(model), pad_token="t0", eos_token="t1",
        unk_token="t1")


def test_sft_trainer_on_a_pre_packed_dataset_equals_unpacked(tmp_path):
    rng = np.random.default_rng(3)
    data = [rng.integers(2, VOCAB, int(n)).tolist() for n in rng.integers(1, 20, 40)]
    packed = pack_dataset(datasets.Dataset.from_dict({"input_ids": data}), capacity=48)
    args = trl.SFTConfig(
        output_dir=str(tmp_path), padding_free=True, max_length=None,
        dataset_kwargs={"skip_prepare_dataset": True}, per_device_train_batch_size=2,
        max_steps=3, optim="sgd", learning_rate=LR, lr_scheduler_type="constant",
        weight_decay=0.0, max_grad_norm=0.0, report_to="none", save_strategy="no",
        use_cpu=True, bf16=False, seed=0,
        dataloader_num_workers=0)
    model = tiny_llama()
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=packed,
                             processing_class=word_tokenizer())
    recorder = Recorder(trainer.data_collator)
    trainer.data_collator = recorder
    trainer.train()
    got = {name: value.detach().clone() for name, value in model.named_parameters()}

    batches = []
    for rows in recorder.batches[:3]:  # (the loader may fetch a batch ahead)
        lengths = np.concatenate([row["seq_lengths"] for row in rows])
        validate_batch(recorder.collate(rows), seq_lengths=lengths)
        tokens = np.concatenate([row["input_ids"] for row in rows])
        batches.append([s.tolist() for s in np.split(tokens, np.cumsum(lengths)[:-1])])
    assert_same_parameters(got, unpacked_sgd(tiny_llama(), batches, LR))
