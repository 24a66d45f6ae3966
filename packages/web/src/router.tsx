import {
  Link,
  Outlet,
  createRootRoute,
  createRoute,
  createRouter,
  redirect,
  type ErrorComponentProps,
} from "@tanstack/react-router";
import { getApiKey } from "./api/session";
import { ErrorNotice } from "./components/ErrorNotice";
import { Layout } from "./components/Layout";
import { PageHeading } from "./components/PageHeading";
import { ModelPage, type ModelTab } from "./pages/model/ModelPage";
import { ModelRegistryPage } from "./pages/ModelRegistryPage";
import { ProjectPage } from "./pages/ProjectPage";
import { RulePage } from "./pages/RulePage";
import { SignInPage } from "./pages/SignInPage";
import { WorkspacePage } from "./pages/WorkspacePage";
import { WorkspacesPage } from "./pages/WorkspacesPage";

// Routes are declared in code (no file-based generator) and stay thin: each reads its params and hands them to a
// page component as props, so pages do not depend on route objects.

const rootRoute = createRootRoute({
  component: Outlet,
  notFoundComponent: NotFound,
  errorComponent: RouteError,
});

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/sign-in",
  validateSearch: (search: Record<string, unknown>): { reason?: string; redirect?: string } => ({
    reason: typeof search.reason === "string" ? search.reason : undefined,
    redirect: typeof search.redirect === "string" ? search.redirect : undefined,
  }),
  component: function SignInRoute() {
    const { reason, redirect } = signInRoute.useSearch();
    return <SignInPage reason={reason} redirect={redirect} />;
  },
});

/** Every page but sign-in: without a key in this browser session, go to sign-in and come back afterwards. */
const appRoute = createRoute({
  getParentRoute: () => rootRoute,
  id: "app",
  beforeLoad: ({ location }) => {
    if (!getApiKey()) throw redirect({ to: "/sign-in", search: { redirect: location.href } });
  },
  component: Layout,
});

const indexRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/",
  beforeLoad: () => {
    throw redirect({ to: "/workspaces" });
  },
});

const workspacesRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/workspaces",
  component: WorkspacesPage,
});

const workspaceRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/workspaces/$workspaceId",
  component: function WorkspaceRoute() {
    const { workspaceId } = workspaceRoute.useParams();
    return <WorkspacePage key={workspaceId} workspaceId={workspaceId} />;
  },
});

const projectRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/projects/$projectId",
  component: function ProjectRoute() {
    const { projectId } = projectRoute.useParams();
    return <ProjectPage key={projectId} projectId={projectId} />;
  },
});

const registryRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/projects/$projectId/models",
  component: function RegistryRoute() {
    const { projectId } = registryRoute.useParams();
    return <ModelRegistryPage key={projectId} projectId={projectId} />;
  },
});

const modelRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/models/$modelId",
  validateSearch: (search: Record<string, unknown>): { tab?: ModelTab } => ({
    tab: search.tab === "details" || search.tab === "file-scan" ? search.tab : undefined,
  }),
  component: function ModelRoute() {
    const { modelId } = modelRoute.useParams();
    const { tab } = modelRoute.useSearch();
    return <ModelPage key={modelId} modelId={modelId} tab={tab ?? "file-scan"} />;
  },
});

const ruleRoute = createRoute({
  getParentRoute: () => appRoute,
  path: "/rules/$ruleId",
  component: function RuleRoute() {
    const { ruleId } = ruleRoute.useParams();
    return <RulePage key={ruleId} ruleId={ruleId} />;
  },
});

const routeTree = rootRoute.addChildren([
  signInRoute,
  appRoute.addChildren([
    indexRoute,
    workspacesRoute,
    workspaceRoute,
    projectRoute,
    registryRoute,
    modelRoute,
    ruleRoute,
  ]),
]);

export const router = createRouter({ routeTree, defaultPreload: false, scrollRestoration: true });

declare module "@tanstack/react-router" {
  interface Register {
    router: typeof router;
  }
}

function NotFound() {
  return (
    <main id="main" className="container narrow">
      <PageHeading title="Page not found" />
      <p>
        There is no page at this address. Go to the <Link to="/workspaces">workspaces</Link>.
      </p>
    </main>
  );
}

function RouteError({ error }: ErrorComponentProps) {
  return (
    <main id="main" className="container narrow">
      <PageHeading title="This page failed" />
      <ErrorNotice error={error} />
      <p>
        <Link to="/workspaces">Back to the workspaces</Link>
      </p>
    </main>
  );
}
