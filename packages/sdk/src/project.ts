import type { ModelConfig, Project } from "./types.js";

/** What a project needs from the client; keeps project.ts free of a cycle with client.ts. */
export interface ModelRegistrar {
  registerModel(projectId: string, name: string, modelConfig: ModelConfig, integrationId?: string): Promise<string>;
}

/** A project as the API returns it, plus `registerModel`. */
export class ProjectHandle implements Project {
  declare readonly project_id: string;
  declare readonly workspace_id: string;
  declare readonly name: string;
  declare readonly description: string;
  declare readonly created_at: string;
  declare readonly models_by_severity?: Project["models_by_severity"];
  readonly #registrar: ModelRegistrar;

  constructor(registrar: ModelRegistrar, data: Project) {
    Object.assign(this, data);
    this.#registrar = registrar;
  }

  /**
   * Registers a Hugging Face model in this project; returns its model id. `integrationId`: an integration whose
   * `HUGGINGFACE_API_TOKEN` (or `HF_TOKEN`) field reads a private repo.
   */
  registerModel(name: string, modelConfig: ModelConfig, integrationId?: string): Promise<string> {
    return this.#registrar.registerModel(this.project_id, name, modelConfig, integrationId);
  }
}
