"""A project, which can register models into its Model Registry."""

from typing import TYPE_CHECKING, Any, Dict, Optional

from .records import Record

if TYPE_CHECKING:
    from .client import Client


class Project(Record):
    """``project_id``, ``workspace_id``, ``name``, ``description``, ``created_at`` (``get_project`` adds
    ``models_by_severity``), plus ``register_model``."""

    project_id: str
    workspace_id: str
    name: str

    def __init__(self, raw: Dict[str, Any], client: Optional["Client"] = None) -> None:
        super().__init__(raw)
        object.__setattr__(self, "_client", client)

    def register_model(self, name: str, model_config: Dict[str, Any], integration_id: Optional[str] = None) -> str:
        """Registers a Hugging Face model in this project and returns its model id.

        model_config: ``{"hugging_face": {"model_uri": "org/repo", "revision": "main"}}`` (revision optional).
        integration_id: an integration whose ``HUGGINGFACE_API_TOKEN`` (or ``HF_TOKEN``) field reads a private repo.
        """
        if self._client is None:
            raise RuntimeError("this Project was not created by a Client; use client.register_model(project_id, …)")
        return self._client.register_model(self["project_id"], name, model_config, integration_id)
