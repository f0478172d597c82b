// Registers the tfjs CPU backend (the last fallback) with only the kernels the model runs.
import './cpu.kernels.generated';
