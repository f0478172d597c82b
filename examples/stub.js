// The command-queue stub: calls made before attnflow.js has loaded are queued and run in order.
window.attnflow = window.attnflow || [];
