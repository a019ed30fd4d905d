"""The matrix-product floor of a training step: the step's own MatMul and convolution ops,
found in its traced graph and replayed one after another on random inputs of the same shapes,
with nothing else. `experiments.benchmark --floor` times it beside the real step, so "how far
from the hardware" is measured, not guessed."""
from __future__ import annotations

import dataclasses
import time
from typing import List, Tuple

import numpy as np
import tensorflow as tf

PRODUCT_OPS = ("MatMul", "BatchMatMulV2", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
# Which inputs are data (the others are shapes): the backprop convolutions take a size vector.
_TENSOR_OPERANDS = {"MatMul": (0, 1), "BatchMatMulV2": (0, 1), "Conv2D": (0, 1),
                    "Conv2DBackpropInput": (1, 2), "Conv2DBackpropFilter": (0, 2)}
_CONV_ATTRS = ("strides", "padding", "data_format", "dilations", "explicit_paddings")


@dataclasses.dataclass(frozen=True)
class Product:
    """One matrix product (or convolution) of the step: its op type, input and output shapes,
    dtype and the attributes that change its cost."""

    op_type: str
    input_shapes: Tuple[Tuple[int, ...], ...]
    output_shape: Tuple[int, ...]
    dtype: tf.DType
    attrs: Tuple[Tuple[str, object], ...]

    @property
    def flops(self) -> int:
        """Multiply-adds x 2."""
        if self.op_type in ("MatMul", "BatchMatMulV2"):
            a = self.input_shapes[0]
            inner = a[-2] if dict(self.attrs).get("transpose_a") or dict(self.attrs).get(
                "adj_x") else a[-1]
            return 2 * int(np.prod(self.output_shape)) * int(inner)
        # convolutions: every output of the forward conv costs kh * kw * c_in multiply-adds
        kernel = (self.input_shapes[1] if self.op_type != "Conv2DBackpropFilter"
                  else self.output_shape)
        forward_out = (self.output_shape if self.op_type == "Conv2D"
                       else self.input_shapes[2])
        return 2 * int(np.prod(forward_out)) * int(np.prod(kernel[:3]))


def _live_ops(graph) -> set:
    """Ops the runtime executes: those the graph's outputs or stateful ops (variable updates)
    depend on. Traced gradients also hold products nobody reads (a frozen D's weight
    gradients in G's step); the runtime prunes them, and so does the floor."""
    roots = [t.op for t in graph.outputs]
    roots += [op for op in graph.get_operations() if op.op_def.is_stateful]
    live, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op.name in live:
            continue
        live.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return live


def step_products(concrete_function) -> List[Product]:
    """The products one iteration of a traced training loop runs: the live ops of the while
    loop's body (and of the functions it calls), in graph order."""
    products = []

    def walk(graph, in_loop):
        live = _live_ops(graph)
        for op in graph.get_operations():
            if op.type in PRODUCT_OPS and in_loop and op.name in live:
                attrs = tuple((name, op.get_attr(name)) for name in
                              (("transpose_a", "transpose_b") if op.type == "MatMul" else
                               ("adj_x", "adj_y") if op.type == "BatchMatMulV2" else _CONV_ATTRS))
                products.append(Product(op.type, tuple(tuple(i.shape) for i in op.inputs),
                                        tuple(op.outputs[0].shape), op.inputs[-1].dtype, attrs))
        for name, function in getattr(graph, "_functions", {}).items():
            if getattr(function, "graph", None) is not None and "cond" not in name:
                walk(function.graph, in_loop or name.startswith("while_body"))

    walk(concrete_function.graph, False)
    return products


def _replay(product: Product, operands):
    attrs = dict(product.attrs)
    if product.op_type == "MatMul":
        return tf.raw_ops.MatMul(a=operands[0], b=operands[1], **attrs)
    if product.op_type == "BatchMatMulV2":
        return tf.raw_ops.BatchMatMulV2(x=operands[0], y=operands[1], **attrs)
    if product.op_type == "Conv2D":
        return tf.raw_ops.Conv2D(input=operands[0], filter=operands[1], **attrs)
    if product.op_type == "Conv2DBackpropInput":
        return tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.constant(product.output_shape, tf.int32), filter=operands[1],
            out_backprop=operands[2], **attrs)
    return tf.raw_ops.Conv2DBackpropFilter(
        input=operands[0], filter_sizes=tf.constant(product.output_shape, tf.int32),
        out_backprop=operands[2], **attrs)


def time_products(products: List[Product], steps: int, steps_per_call: int = 50,
                  warmup_steps: int = 20) -> float:
    """Seconds per step of running `products` one after another (each waits for the one
    before), in fused calls of `steps_per_call` like the trainer's."""
    rng = np.random.RandomState(0)
    operands = [{index: tf.Variable(tf.cast(rng.standard_normal(product.input_shapes[index]),
                                            product.dtype))
                 for index in _TENSOR_OPERANDS[product.op_type]} for product in products]

    @tf.function
    def run(count):
        # Each product waits for the one before (control edge) and every result is summed into
        # what the call returns, so the graph optimiser can neither reorder nor drop any.
        token = total = tf.constant(0.0)
        for _ in tf.range(count):
            for product, variables in zip(products, operands):
                with tf.control_dependencies([token]):
                    inputs = {index: variable.read_value() for index, variable in
                              variables.items()}
                    token = tf.cast(tf.reduce_sum(_replay(product, inputs)), tf.float32)
                total += token
        return total

    run(tf.constant(min(warmup_steps, steps_per_call))).numpy()
    started, done = time.perf_counter(), 0
    while done < steps:
        n = min(steps_per_call, steps - done)
        run(tf.constant(n)).numpy()
        done += n
    return (time.perf_counter() - started) / steps
