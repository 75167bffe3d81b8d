"""A small pure-Python reference of the packed row layout (see
seqpacker/_training/layout.py for the rules), written with plain loops so
that it is easy to check by eye against the documented conventions."""


def reference_layout(sequences, labels, bins, capacity, *, layout="padded", convention="hf",
                     pad=0, ignore=-100, multiple=1):
    """Rows of the packed batch as lists, plus cu_seqlens and seq_idx.

    sequences: token lists; labels: label lists beside them, or None;
    bins: lists of sequence ids, in packing order.
    """
    rows, row_labels, row_positions, row_seq_idx = [], [], [], []
    cu, number = [0], 0
    ids, labs, poss, idxs = [], [], [], []

    def segment(tokens, seg_labels, seq):
        ids.extend(tokens)
        labs.extend(seg_labels)
        poss.extend(range(len(tokens)))
        idxs.extend([seq] * len(tokens))
        cu.append(cu[-1] + len(tokens))

    for members in bins:
        if layout == "padded":
            ids, labs, poss, idxs = [], [], [], []
        for s in members:
            tokens = list(sequences[s])
            source = list(labels[s]) if labels is not None else tokens
            if convention == "hf":
                seg_labels = [ignore] + source[1:]
            else:
                seg_labels = source[1:] + [ignore]
            slot = -(-len(tokens) // multiple) * multiple
            extra = slot - len(tokens)
            segment(tokens + [pad] * extra, seg_labels + [ignore] * extra, number)
            number += 1
        if layout == "padded":
            if len(ids) < capacity:
                segment([pad] * (capacity - len(ids)), [ignore] * (capacity - len(ids)), -1)
            rows.append(ids), row_labels.append(labs)
            row_positions.append(poss), row_seq_idx.append(idxs)
    if layout == "flat":
        rows, row_labels, row_positions, row_seq_idx = [ids], [labs], [poss], [idxs]
    return {"input_ids": rows, "labels": row_labels, "position_ids": row_positions,
            "seq_idx": row_seq_idx, "cu_seqlens": cu}
