// Registers the tfjs CPU backend, the last fallback.
import '@tensorflow/tfjs-backend-cpu';
