"""absl programs over keras_gan: one per job, configured by flagfiles in configs/."""
import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) hides the progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
