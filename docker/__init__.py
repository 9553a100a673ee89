"""Not code: compose.yaml and what the local launchers build from (Maven poms, tiny Java mains).

Installed as ``storagebench.docker`` so these files ship in the wheel; the services find them through
:data:`storagebench.services.base.DOCKER_ROOT`, in a checkout and in an installed wheel alike."""
