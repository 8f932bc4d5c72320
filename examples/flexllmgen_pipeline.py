"""FlexLLMGen's pipeline traffic, runnable unchanged on torch.distributed (gloo) or ringpipe.

What it shows: the communication pattern of FlexLLMGen's ``dist_flex_opt.py`` (N pipeline
stages, one per rank, with several micro-batches in flight) gives bit-identical results over
``torch.distributed`` and over ``ringpipe.distributed`` / ``ringpipe.dist_utils``. Only the
imports differ (see ``import_backend``); everything else is one code path.

Each step, for each micro-batch (told apart by tag, as FlexLLMGen's counters do):

- rank 0 embeds token ids (the prompt at step 0, after that the tokens the last stage sent
  back) into fp16 hidden states and applies its layer;
- every other rank receives the hidden states from its predecessor with
  ``dist.recv(tensor, sender_rank, tag=tag)`` and applies its layer, a fixed seeded linear
  map computed in float32 and cast back to float16;
- each rank hands its output to its successor with ``dist.isend(tensor, receiver_rank,
  tag=tag)`` and waits for it later; the last stage's output is int64 token ids (argmax over
  a small vocabulary), which go to rank 0: the ring wraps around.

Step 0 (the prompt) moves ``batch * seq_len * hidden`` fp16 values per micro-batch (4 MiB
with the defaults); the decode steps move ``batch * hidden`` (32 KiB); the wrap message is
``batch`` int64 ids (256 bytes). At the end the last stage sends rank 0 every token it
generated and its final hidden states, and rank 0 prints ``result <sha256>`` over both, so
runs on the two backends can be compared.

Run it (all arguments default from RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT):

    build/tools/ringpipe-run -n 2 -- /usr/bin/python3 examples/flexllmgen_pipeline.py --backend ringpipe
    build/tools/ringpipe-run -n 2 -- /usr/bin/python3 examples/flexllmgen_pipeline.py --backend torch
    torchrun --nproc-per-node 2 examples/flexllmgen_pipeline.py --backend torch

or by hand, once per rank, as FlexLLMGen is started (``PYTHONPATH=build/python`` for ringpipe):

    python3 examples/flexllmgen_pipeline.py --backend ringpipe --head-ip 127.0.0.1 \\
        --port 29501 --world-size 2 --rank 0 --local-rank 0

The port is where rank 0 listens: torch's TCPStore for ``torch``, ringpipe's rendezvous for
``ringpipe``. Placed by the environment, ringpipe uses RINGPIPE_PORT, else MASTER_PORT + 1
(ringpipe's rule: MASTER_PORT is left to torch's store).
"""

import argparse
import hashlib
import os
import sys
import time

import torch


# --- The backends: the only code that differs ------------------------------------------------

def torch_initialize_distributed(head_ip, port, world_size, rank, local_rank, comm_device):
    """The torch baseline: FlexLLMGen's dist_utils.initialize_distributed, reduced to what
    this CPU example uses (the gloo backend over a TCP store on rank 0)."""
    import torch.distributed as dist
    assert comm_device == "cpu", "this example moves host tensors (gloo)"
    dist.init_process_group(backend="gloo", init_method=f"tcp://{head_ip}:{port}",
                            world_size=world_size, rank=rank)


def import_backend(name):
    """Returns (dist, initialize_distributed, default port) for --backend `name`."""
    if name == "torch":
        import torch.distributed as dist
        port = os.environ.get("MASTER_PORT", "29500")
        return dist, torch_initialize_distributed, int(port)
    import ringpipe.distributed as dist
    from ringpipe.dist_utils import initialize_distributed
    if "RINGPIPE_PORT" in os.environ:
        port = int(os.environ["RINGPIPE_PORT"])
    else:
        port = int(os.environ.get("MASTER_PORT", "29500")) + 1
    return dist, initialize_distributed, port


dist = None  # the chosen backend's module, set by main()


# --- The model: deterministic, small, the same on every backend ------------------------------

class Stage:
    """One pipeline stage: its layer, plus the embedding (rank 0) or output head (last rank).

    Weights come from seeded generators, so every run of every backend computes the same
    values; one thread keeps float32 reductions in one order."""

    def __init__(self, args, rank, world_size):
        self.rank, self.world_size = rank, world_size
        self.first, self.last = rank == 0, rank == world_size - 1
        shared = torch.Generator().manual_seed(args.seed)
        # Tied embedding: rank 0 embeds token ids with it, the last rank scores against it.
        self.embedding = torch.randn(args.vocab, args.hidden, generator=shared)
        own = torch.Generator().manual_seed(args.seed * 1000 + 1 + rank)
        self.weight = torch.randn(args.hidden, args.hidden, generator=own) / args.hidden ** 0.5
        # A KV-cache stand-in per micro-batch: the running sum of this stage's inputs, so a
        # decode step depends on everything before it (mixed-up micro-batches would show).
        self.cache_sum = [torch.zeros(args.batch, args.hidden) for _ in range(args.micro_batches)]
        self.cache_len = [0] * args.micro_batches

    def embed(self, token_ids):
        return self.embedding[token_ids].half()

    def layer(self, hidden, m):
        x = hidden.float()
        self.cache_sum[m] += x.sum(dim=1)
        self.cache_len[m] += x.shape[1]
        context = (self.cache_sum[m] / self.cache_len[m]).unsqueeze(1)
        return torch.tanh((x + context) @ self.weight).half()

    def next_tokens(self, hidden):
        logits = hidden[:, -1, :].float() @ self.embedding.t()
        return logits.argmax(dim=-1, keepdim=True)  # int64, shape (batch, 1)


# --- The traffic: FlexLLMGen's send_recv_hidden and generation loop ---------------------------

class Pipeline:
    def __init__(self, args, rank, world_size):
        self.args, self.rank, self.world_size = args, rank, world_size
        self.stage = Stage(args, rank, world_size)
        self.sender_rank = (rank - 1) % world_size
        self.receiver_rank = (rank + 1) % world_size
        self.outputs = {}           # job -> the tensor this stage sends for it
        self.received_tokens = {}   # (step, m) -> token ids rank 0 got back (rank 0)
        self.generated = {}         # (step, m) -> token ids (last rank)
        self.final_hidden = {}      # m -> hidden states of the final step (last rank)
        self.bytes_sent = 0
        prompt_gen = torch.Generator().manual_seed(args.seed + 7)
        self.prompts = [torch.randint(args.vocab, (args.batch, args.seq_len), generator=prompt_gen)
                        for _ in range(args.micro_batches)]

    def tag(self, job):
        step, m = job
        return step * self.args.micro_batches + m

    def input_buffer(self, job):
        """What this stage receives for `job`: token ids at rank 0, fp16 hidden states else."""
        step, _ = job
        if self.rank == 0:
            return torch.empty(self.args.batch, 1, dtype=torch.int64)
        seq_len = self.args.seq_len if step == 0 else 1
        return torch.empty(self.args.batch, seq_len, self.args.hidden, dtype=torch.float16)

    def send_recv(self, sending_job, receiving_job):
        """Sends the previous job's output and receives this job's input, in FlexLLMGen's order:
        rank 0 receives first and then sends, the others send first and then receive. Rank 0
        receives, for step i, the tokens of step i - 1; nothing comes back after the last step
        and nothing is received for the prompt."""
        last_step = self.args.steps - 1
        sending = sending_job is not None and not (
            self.stage.last and sending_job[0] == last_step)
        receiving = receiving_job is not None and not (
            self.stage.first and receiving_job[0] == 0)

        def _send():
            if not sending:
                return []
            val = self.outputs.pop(sending_job)
            self.bytes_sent += val.numel() * val.element_size()
            return [dist.isend(val.data, self.receiver_rank, tag=self.tag(sending_job))]

        def _recv():
            if not receiving:
                return None
            # Rank 0's input for step i is the last stage's output for step i - 1.
            step, m = receiving_job
            job = (step - 1, m) if self.stage.first else receiving_job
            tensor = self.input_buffer(receiving_job)
            dist.recv(tensor, self.sender_rank, tag=self.tag(job))
            return tensor

        # The order FlexLLMGen uses to avoid a deadlock with blocking receives.
        if self.rank == 0:
            received = _recv()
            futures = _send()
        else:
            futures = _send()
            received = _recv()
        for future in futures:
            future.wait()
        return received

    def compute(self, job, received):
        step, m = job
        if self.stage.first:
            if step == 0:
                tokens = self.prompts[m]
            else:
                tokens = received
                self.received_tokens[(step - 1, m)] = tokens
            hidden = self.stage.embed(tokens)
        else:
            hidden = received
        hidden = self.stage.layer(hidden, m)
        if self.stage.last:
            tokens = self.stage.next_tokens(hidden)
            self.generated[job] = tokens
            if step == self.args.steps - 1:
                self.final_hidden[m] = hidden[:, -1:, :].contiguous()
            return tokens
        return hidden

    def generate(self):
        """FlexLLMGen's generation_loop_normal: each job is (step, micro-batch)."""
        dist.barrier()
        last_sending_job = None
        for step in range(self.args.steps):
            for m in range(self.args.micro_batches):
                job = (step, m)
                received = self.send_recv(last_sending_job, job)
                self.outputs[job] = self.compute(job, received)
                last_sending_job = job
        self.send_recv(last_sending_job, None)

    def collect(self):
        """The last stage sends rank 0 (its successor) every token it generated and the final
        hidden states; rank 0 checks them against the tokens it received and digests both."""
        args = self.args
        tokens_shape = (args.micro_batches, args.steps, args.batch, 1)
        hidden_shape = (args.micro_batches, args.batch, 1, args.hidden)
        tag = args.steps * args.micro_batches  # past every job's tag
        if self.stage.last:
            tokens = torch.stack([torch.stack([self.generated[(i, m)] for i in range(args.steps)])
                                  for m in range(args.micro_batches)])
            hidden = torch.stack([self.final_hidden[m] for m in range(args.micro_batches)])
            futures = [dist.isend(tokens, 0, tag=tag), dist.isend(hidden, 0, tag=tag + 1)]
            for future in futures:
                future.wait()
        if self.rank != 0:
            return None
        tokens = torch.empty(tokens_shape, dtype=torch.int64)
        hidden = torch.empty(hidden_shape, dtype=torch.float16)
        dist.recv(tokens, self.world_size - 1, tag=tag)
        dist.recv(hidden, self.world_size - 1, tag=tag + 1)
        for (step, m), got in self.received_tokens.items():
            if not torch.equal(got, tokens[m, step]):
                raise RuntimeError(f"rank 0 received other tokens for step {step}, "
                                   f"micro-batch {m} than the last stage generated")
        digest = hashlib.sha256()
        digest.update(tokens.numpy().tobytes())
        digest.update(hidden.numpy().tobytes())
        return digest.hexdigest()


# --- Arguments and main ------------------------------------------------------------------------

def env_int(name, default):
    return int(os.environ[name]) if name in os.environ else default


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["torch", "ringpipe"], required=True)
    parser.add_argument("--head-ip", default=os.environ.get("MASTER_ADDR", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=None,
                        help="rank 0's port: torch's store or ringpipe's rendezvous "
                             "(default: MASTER_PORT for torch; RINGPIPE_PORT, else "
                             "MASTER_PORT + 1 for ringpipe)")
    parser.add_argument("--world-size", type=int, default=env_int("WORLD_SIZE", None))
    parser.add_argument("--rank", type=int, default=env_int("RANK", None))
    parser.add_argument("--local-rank", type=int, default=env_int("LOCAL_RANK", None))
    parser.add_argument("--steps", type=int, default=4, help="the prompt step + decode steps")
    parser.add_argument("--micro-batches", type=int, default=None,
                        help="micro-batches in flight (default: the world size, as "
                             "FlexLLMGen's num_inner_iterations)")
    parser.add_argument("--batch", type=int, default=32, help="sequences per micro-batch")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--seq-len", type=int, default=128, help="prompt length")
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.world_size is None or args.rank is None:
        parser.error("--world-size and --rank (or WORLD_SIZE and RANK) are required")
    if args.local_rank is None:
        args.local_rank = args.rank
    if args.world_size < 2:
        parser.error("a pipeline needs at least 2 ranks")
    if args.micro_batches is None:
        args.micro_batches = args.world_size
    # With blocking receives and sends that may complete only once received, FlexLLMGen's
    # schedule is deadlock-free only for 2 .. 2N-1 micro-batches in flight: with one, rank 0
    # would wait for tokens of the job it has not sent yet; with more, the ring is over full.
    if args.steps > 1 and not 2 <= args.micro_batches <= 2 * args.world_size - 1:
        parser.error(f"--micro-batches must be 2..{2 * args.world_size - 1} for "
                     f"{args.world_size} ranks (FlexLLMGen's schedule deadlocks otherwise)")
    if args.steps < 1 or min(args.batch, args.hidden, args.seq_len, args.vocab) < 1:
        parser.error("--steps, --batch, --hidden, --seq-len and --vocab must be positive")
    return args


def main(argv=None):
    global dist
    args = parse_args(argv)
    dist, initialize_distributed, default_port = import_backend(args.backend)
    port = args.port if args.port is not None else default_port
    torch.set_num_threads(1)  # the same float32 summation order in every run

    initialize_distributed(args.head_ip, port, args.world_size, args.rank, args.local_rank,
                           "cpu")
    pipeline = Pipeline(args, args.rank, args.world_size)
    started = time.monotonic()
    pipeline.generate()
    result = pipeline.collect()
    dist.barrier()
    seconds = time.monotonic() - started
    if args.rank == 0:
        print(f"backend {args.backend}: {args.world_size} stages, {args.steps} steps, "
              f"{args.micro_batches} micro-batches, rank 0 sent "
              f"{pipeline.bytes_sent / 2**20:.1f} MiB in {seconds:.2f} s", flush=True)
        print(f"result {result}", flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
