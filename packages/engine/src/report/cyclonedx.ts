import { Enums, Models, Serialize, Spec, Validation } from "@cyclonedx/cyclonedx-library";
import type { ScanReport, ScannedFile } from "./types.js";

const SEVERITY: Record<number, Enums.Vulnerability.Severity> = {
  2: Enums.Vulnerability.Severity.Medium,
  3: Enums.Vulnerability.Severity.High,
};

/**
 * A CycloneDX 1.6 ML-BOM of the scan: one component per file (a model when a model format was recognised, else a
 * file), its SHA-256 when known, the Hub page of the file at the scanned commit, and every Alert/Warning finding as
 * a vulnerability that affects its component. Built with the CycloneDX library and checked against its schema
 * before it is returned, so a BOM that does not validate is never written.
 */
export async function toCycloneDx(report: ScanReport, toolVersion: string): Promise<string> {
  const bom = new Models.Bom();
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, "modelvet", { version: toolVersion }),
  );
  const components = new Map<string, Models.Component>();
  report.scanned_files.forEach((file, i) => {
    const component = fileComponent(file, i, report);
    components.set(file.path, component);
    bom.components.add(component);
  });
  for (const file of report.file_security_reports) {
    const component = components.get(file.path);
    if (!component) continue;
    for (const dep of file.unsafe_dependencies) {
      const name = dep.name ? `${dep.module}.${dep.name}` : dep.module;
      bom.vulnerabilities.add(
        vulnerability(dep.rule, dep.severity, `${name}: ${dep.reason}`, component, bom.vulnerabilities.size + 1),
      );
    }
    for (const ind of file.indicators)
      bom.vulnerabilities.add(
        vulnerability(ind.id, ind.severity, ind.message, component, bom.vulnerabilities.size + 1),
      );
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  const json = serializer.serialize(bom, { sortLists: false, space: 2 });
  const problems: unknown = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(json);
  if (problems) throw new Error(`internal error: the CycloneDX BOM does not validate: ${JSON.stringify(problems)}`);
  return json;
}

function fileComponent(file: ScannedFile, index: number, report: ScanReport): Models.Component {
  const type = file.formats.length > 0 ? Enums.ComponentType.MachineLearningModel : Enums.ComponentType.File;
  const component = new Models.Component(type, file.path, { bomRef: `file-${index + 1}` });
  if (file.sha256) component.hashes.set(Enums.HashAlgorithm["SHA-256"], file.sha256);
  if (file.formats.length > 0)
    component.properties.add(new Models.Property("modelvet:formats", file.formats.join(",")));
  component.properties.add(new Models.Property("modelvet:severity", String(file.severity)));
  if (file.url) {
    component.externalReferences.add(
      new Models.ExternalReference(file.url, Enums.ExternalReferenceType.Distribution, {
        comment: "the file at the scanned commit",
      }),
    );
    const target = report.targets?.find((t) => file.path.includes(`${t.repo}@${t.commit.slice(0, 12)}/`));
    if (target)
      component.externalReferences.add(
        new Models.ExternalReference(`${target.endpoint}/${target.repo}`, Enums.ExternalReferenceType.VCS, {
          comment: `Hub repository ${target.repo} at commit ${target.commit}`,
        }),
      );
  }
  return component;
}

function vulnerability(id: string, severity: number, description: string, component: Models.Component, n: number) {
  // Numbered refs, not the library's random ones: the same scan gives the same BOM.
  const vuln = new Models.Vulnerability.Vulnerability({ id, description, bomRef: `finding-${n}` });
  const rated = SEVERITY[severity];
  if (rated)
    vuln.ratings.add(
      new Models.Vulnerability.Rating({ severity: rated, method: Enums.Vulnerability.RatingMethod.Other }),
    );
  vuln.affects.add(new Models.Vulnerability.Affect(component.bomRef));
  return vuln;
}
