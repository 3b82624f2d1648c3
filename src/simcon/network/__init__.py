"""Container networking through CNI plugins: the client (cni), the networks (store), the container's
namespace (netns), its DNS and hosts files (files), published ports (ports), and the lifecycle (setup).

See docs/networking.md."""
