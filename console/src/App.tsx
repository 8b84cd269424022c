/**
 * The console's frame: sign-in until a token is given, then a header with the region switcher, the views
 * (Images, Tasks, Usage) and sign-out. The selected region's endpoint and the viewer's project there are
 * given to the views.
 */
import { Alert, AppShell, Button, Group, Loader, Select, Tabs, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { ApiError, loadRegions, session, whoAmI, type Region, type WhoAmI } from './api';
import { ImagesPage } from './pages/ImagesPage';
import { SignIn } from './pages/SignIn';
import { TasksPage } from './pages/TasksPage';
import { UsagePage } from './pages/UsagePage';
import { navigate, useRoute, type View } from './route';

export interface RegionContext {
  region: Region;
  regions: Region[];
  me: WhoAmI;
}

export function App() {
  const route = useRoute();
  const [token, setToken] = useState(session.token());
  const [catalog, setCatalog] = useState<{ region: string; regions: Region[] } | null>(null);
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    loadRegions()
      .then(setCatalog)
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, []);

  // A route without a known region goes to the serving region's images.
  useEffect(() => {
    if (!catalog) return;
    if (!route.region || !catalog.regions.some((r) => r.name === route.region)) {
      navigate({ region: catalog.region, view: route.view }, true);
    }
  }, [catalog, route.region, route.view]);

  const region = catalog?.regions.find((r) => r.name === route.region);

  useEffect(() => {
    if (!token || !region) return;
    setMe(null);
    whoAmI(region.endpoint)
      .then(setMe)
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 401) {
          session.signOut();
          setToken(null);
        } else setError(e instanceof Error ? e.message : String(e));
      });
  }, [token, region]);

  const signOut = useCallback(() => {
    session.signOut();
    setToken(null);
    setMe(null);
  }, []);

  if (error) {
    return (
      <Alert color="red" title="The console cannot start" m="xl" role="alert">
        {error}
      </Alert>
    );
  }
  if (!catalog) return <Loader m="xl" aria-label="Loading" />;
  if (!token) {
    return (
      <SignIn
        endpoint={catalog.regions.find((r) => r.name === catalog.region)!.endpoint}
        onSignedIn={(t) => {
          session.signIn(t);
          setToken(t);
        }}
      />
    );
  }

  return (
    <AppShell header={{ height: 60 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap">
            <Title order={3}>Ferry</Title>
            <Select
              aria-label="Region"
              data-testid="region-switcher"
              w={180}
              allowDeselect={false}
              value={route.region}
              data={catalog.regions.map((r) => ({ value: r.name, label: `${r.display_name} (${r.name})` }))}
              onChange={(value) => value && navigate({ region: value, view: route.view })}
            />
            <Tabs
              value={route.view}
              onChange={(view) =>
                route.region && view && navigate({ region: route.region, view: view as View })
              }
            >
              <Tabs.List>
                <Tabs.Tab value="images">Images</Tabs.Tab>
                <Tabs.Tab value="tasks">Tasks</Tabs.Tab>
                <Tabs.Tab value="usage">Usage</Tabs.Tab>
              </Tabs.List>
            </Tabs>
          </Group>
          <Group wrap="nowrap">
            {me && (
              <Text size="sm" c="dimmed" data-testid="signed-in-as">
                {me.user.name} · {me.account.name} · project {me.project.name}
              </Text>
            )}
            <Button variant="default" onClick={signOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main>
        {!region || !me ? (
          <Loader aria-label="Loading" />
        ) : route.view === 'images' ? (
          <ImagesPage key={region.name} region={region} regions={catalog.regions} me={me} />
        ) : route.view === 'tasks' ? (
          <TasksPage key={region.name} region={region} regions={catalog.regions} me={me} />
        ) : (
          <UsagePage key={region.name} region={region} regions={catalog.regions} me={me} />
        )}
      </AppShell.Main>
    </AppShell>
  );
}
